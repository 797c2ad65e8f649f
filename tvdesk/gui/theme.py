"""Light, dark or the system's colours, chosen in Settings and kept in QSettings.

The choice is a view preference, so it lives in QSettings (the platform's usual place for
window state), not in the TOML config the CLI reads. Qt 6.8+ is asked for the colour scheme
through `QStyleHints.setColorScheme` (native styles on Windows and macOS follow it); an
explicit palette is set as well, because styles and platforms that ignore the request
(Fusion, Linux without a portal) still honour the application palette. "System" hands both
back to the platform.
"""

from __future__ import annotations

from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, pg

THEMES: tuple[str, ...] = ("system", "light", "dark")
THEME_LABELS = {"system": "System", "light": "Light", "dark": "Dark"}
THEME_KEY = "appearance/theme"


def app_settings() -> QtCore.QSettings:
    """tvdesk's QSettings (named explicitly, so it does not depend on the app's names)."""
    return QtCore.QSettings("tvdesk", "tvdesk")


def saved_theme(settings: QtCore.QSettings | None = None) -> str:
    value = str((settings or app_settings()).value(THEME_KEY, "system") or "system").lower()
    return value if value in THEMES else "system"


def save_theme(theme: str, settings: QtCore.QSettings | None = None) -> None:
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; expected one of {', '.join(THEMES)}")
    store = settings or app_settings()
    store.setValue(THEME_KEY, theme)
    store.sync()


def _dark_palette() -> QtGui.QPalette:
    role = QtGui.QPalette.ColorRole
    group = QtGui.QPalette.ColorGroup
    palette = QtGui.QPalette()
    colours = {
        role.Window: "#2b2b2b", role.WindowText: "#e6e6e6", role.Base: "#1f1f1f",
        role.AlternateBase: "#2f2f2f", role.ToolTipBase: "#3a3a3a", role.ToolTipText: "#e6e6e6",
        role.PlaceholderText: "#8a8a8a", role.Text: "#e6e6e6", role.Button: "#353535",
        role.ButtonText: "#e6e6e6", role.BrightText: "#ff6b6b", role.Light: "#4a4a4a",
        role.Midlight: "#3e3e3e", role.Mid: "#2a2a2a", role.Dark: "#1a1a1a",
        role.Shadow: "#0d0d0d", role.Highlight: "#3d7edb", role.HighlightedText: "#ffffff",
        role.Link: "#6ea8ff", role.LinkVisited: "#b48cff",
    }
    for r, colour in colours.items():
        palette.setColor(r, QtGui.QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, r, QtGui.QColor("#7a7a7a"))
    palette.setColor(group.Disabled, role.Base, QtGui.QColor("#262626"))
    palette.setColor(group.Disabled, role.Button, QtGui.QColor("#2e2e2e"))
    palette.setColor(group.Disabled, role.Highlight, QtGui.QColor("#4a4a4a"))
    return palette


def _light_palette() -> QtGui.QPalette:
    fusion = QtWidgets.QStyleFactory.create("Fusion")
    if fusion is not None:
        return fusion.standardPalette()
    return QtGui.QPalette(QtGui.QColor("#efefef"))


def apply_theme(app: QtWidgets.QApplication, theme: str) -> str:
    """Follow the system, or force light or dark; returns the theme applied.

    An unknown name means "system", so a stale QSettings value never breaks start-up.
    """
    theme = theme.lower() if isinstance(theme, str) else "system"
    if theme not in THEMES:
        theme = "system"
    hints = app.styleHints()
    if theme == "system":
        if hasattr(hints, "unsetColorScheme"):  # Qt 6.8+
            hints.unsetColorScheme()
        app.setPalette(QtGui.QPalette())  # an empty palette: back to the platform's
        return theme
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(Qt.ColorScheme.Dark if theme == "dark" else Qt.ColorScheme.Light)
    app.setPalette(_dark_palette() if theme == "dark" else _light_palette())
    return theme


def is_dark(widget: QtWidgets.QWidget | None = None) -> bool:
    """Whether the colours in effect are dark (for charts that pick their own colours)."""
    palette = widget.palette() if widget is not None else QtGui.QGuiApplication.palette()
    return palette.color(QtGui.QPalette.ColorRole.Window).lightness() < 128


def chart_colours(palette: QtGui.QPalette) -> tuple[QtGui.QColor, QtGui.QColor]:
    """(background, foreground) of a chart: the palette's base and text colours, so a chart
    reads like the tables and text fields around it in either theme."""
    role = QtGui.QPalette.ColorRole
    return palette.color(role.Base), palette.color(role.Text)


def style_chart(view: pg.GraphicsView) -> None:
    """Give a pyqtgraph chart the colours of the palette in effect: background, every axis
    (line, ticks, grid, labels), plot titles and legend text. pyqtgraph keeps the colours it
    was given, so a chart is styled when made and again on every palette change (a theme
    switch); curve colours are the app's own and stay."""
    background, foreground = chart_colours(view.palette())
    view.setBackground(background)
    scene = view.scene()
    if scene is None:
        return
    for item in scene.items():
        if isinstance(item, pg.AxisItem):
            item.setPen(foreground)
            item.setTextPen(foreground)
        elif isinstance(item, pg.LegendItem):
            item.setLabelTextColor(foreground)  # for entries added later
        elif isinstance(item, pg.LabelItem):
            item.setAttr("color", foreground)
            item.setText(item.text)
