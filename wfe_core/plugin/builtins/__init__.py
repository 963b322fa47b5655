"""Built-in plugins: ordinary plugin modules, registered like external ones."""
