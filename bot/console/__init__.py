"""The web console for agencies, team helpers and operators (docs/console.md)."""

from bot.console.app import console_mount

__all__ = ["console_mount"]
