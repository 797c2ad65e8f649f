"""The desktop workbench: a thin PySide6 shell over tvdesk.app. Nothing here computes."""
