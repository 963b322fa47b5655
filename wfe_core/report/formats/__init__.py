"""The built-in report formats, one module each; registered by ``wfe_core.plugin.builtins.report_formats``."""
