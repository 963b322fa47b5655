"""wfe-claude-flow: ``claude_flow.*`` actions and run coordination over the claude-flow v3 MCP server."""

__version__ = "0.1.0"
