#!/bin/sh
# Install tvdesk for the current user: ~/.local/opt/tvdesk, ~/.local/bin/tvdesk,
# a menu entry in ~/.local/share/applications and the icon. Run from the unpacked tarball.
# Uninstall: ./install.sh --uninstall
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX="${HOME}/.local"
OPT="${PREFIX}/opt/tvdesk"
BIN="${PREFIX}/bin"
APPS="${XDG_DATA_HOME:-${PREFIX}/share}/applications"
ICONS="${XDG_DATA_HOME:-${PREFIX}/share}/icons/hicolor/256x256/apps"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "${OPT}" "${BIN}/tvdesk" "${APPS}/tvdesk.desktop" "${ICONS}/tvdesk.png"
    echo "tvdesk removed (your settings and runs in ~/.config/tvdesk, ~/.local/share/tvdesk stay)"
    exit 0
fi

mkdir -p "${OPT}" "${BIN}" "${APPS}" "${ICONS}"
rm -rf "${OPT}"
cp -a "${HERE}/tvdesk" "${OPT}"
ln -sf "${OPT}/tvdesk" "${BIN}/tvdesk"
cp "${HERE}/tvdesk.png" "${ICONS}/tvdesk.png"
sed "s|^Exec=.*|Exec=${OPT}/tvdesk gui|; s|^Icon=.*|Icon=${ICONS}/tvdesk.png|" \
    "${HERE}/tvdesk.desktop" > "${APPS}/tvdesk.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "${APPS}" || true
echo "tvdesk installed in ${OPT}; command: ${BIN}/tvdesk (check ${BIN} is on your PATH)"
"${OPT}/tvdesk" --version
