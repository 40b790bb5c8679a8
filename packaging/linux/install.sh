#!/usr/bin/env bash
# Desktop integration for Linux (freedesktop.org menus, icons and MIME types), per user.
#
#   packaging/linux/install.sh                      use hipvision-gui found on PATH (pip install)
#   packaging/linux/install.sh --bundle DIR         use DIR/hipvision-gui (PyInstaller bundle)
#   packaging/linux/install.sh --default ...        also make HipVision the default app for .dcm
#   packaging/linux/install.sh --uninstall
#
# Installs into ${XDG_DATA_HOME:-~/.local/share}: applications/hipvision.desktop (Exec is the
# absolute path of hipvision-gui, so a venv that is not on the desktop's PATH still works),
# mime/packages/hipvision-dicom.xml, icons/hicolor/<N>x<N>/apps/hipvision.png and
# scalable/apps/hipvision.svg, then refreshes the caches whose tools are installed. This is
# what `xdg-desktop-menu install`, `xdg-mime install` and `xdg-icon-resource install` do, without
# requiring xdg-utils (docs/packaging.md lists those commands too).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
SIZES="16 24 32 48 64 128 256 512"

bundle=""
uninstall=0
make_default=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) shift; bundle="${1:?--bundle needs the folder of the bundled app}" ;;
        --uninstall) uninstall=1 ;;
        --default) make_default=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

refresh() {
    if command -v update-mime-database >/dev/null; then update-mime-database "$DATA/mime" >/dev/null; fi
    if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$DATA/applications" || true; fi
    if command -v gtk-update-icon-cache >/dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" || true
    fi
}

if [ "$uninstall" = 1 ]; then
    rm -f "$DATA/applications/hipvision.desktop" "$DATA/mime/packages/hipvision-dicom.xml" \
          "$DATA/icons/hicolor/scalable/apps/hipvision.svg"
    for n in $SIZES; do rm -f "$DATA/icons/hicolor/${n}x${n}/apps/hipvision.png"; done
    mkdir -p "$DATA/mime/packages" "$DATA/applications"
    refresh
    echo "HipVision desktop integration removed from $DATA"
    exit 0
fi

if [ -n "$bundle" ]; then
    exe="$(cd "$bundle" && pwd)/hipvision-gui"
else
    exe="$(command -v hipvision-gui || true)"
    [ -n "$exe" ] || { echo "install.sh: hipvision-gui is not on PATH; activate the venv HipVision is installed in, or pass --bundle DIR" >&2; exit 2; }
    exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
fi
[ -x "$exe" ] || { echo "install.sh: $exe is not an executable" >&2; exit 2; }

# Icons: the bundle and the wheel carry them as hipvision/_resources/icons; a checkout has resources/icons.
icons="$ROOT/resources/icons"
if [ ! -f "$icons/hipvision-48.png" ] && [ -n "$bundle" ]; then
    icons="$(find "$bundle" -path '*hipvision/_resources/icons' -type d | head -n 1)"
fi
[ -f "$icons/hipvision-48.png" ] || { echo "install.sh: icons not found (looked in $icons)" >&2; exit 2; }

# Desktop Entry spec: an Exec argument with spaces is double-quoted.
case "$exe" in *" "*) exec_arg="\"$exe\"" ;; *) exec_arg="$exe" ;; esac
mkdir -p "$DATA/applications" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps"
tmp="$DATA/applications/.hipvision.desktop.tmp"
sed -e "s|^Exec=hipvision-gui |Exec=$exec_arg |" -e "s|^TryExec=.*|TryExec=$exe|" \
    "$HERE/hipvision.desktop" > "$tmp"
mv -f "$tmp" "$DATA/applications/hipvision.desktop"
cp -f "$HERE/hipvision-dicom.xml" "$DATA/mime/packages/hipvision-dicom.xml"
for n in $SIZES; do
    mkdir -p "$DATA/icons/hicolor/${n}x${n}/apps"
    cp -f "$icons/hipvision-$n.png" "$DATA/icons/hicolor/${n}x${n}/apps/hipvision.png"
done
cp -f "$icons/hipvision.svg" "$DATA/icons/hicolor/scalable/apps/hipvision.svg"
refresh

if [ "$make_default" = 1 ]; then
    if command -v xdg-mime >/dev/null; then
        xdg-mime default hipvision.desktop application/dicom
    else
        # What xdg-mime does on current desktops: the user's mimeapps.list.
        conf="${XDG_CONFIG_HOME:-$HOME/.config}"
        mkdir -p "$conf"
        list="$conf/mimeapps.list"
        touch "$list"
        if grep -q '^\[Default Applications\]' "$list"; then
            sed -i.bak -e '/^application\/dicom=/d' -e 's|^\[Default Applications\]$|&\napplication/dicom=hipvision.desktop;|' "$list"
            rm -f "$list.bak"
        else
            printf '[Default Applications]\napplication/dicom=hipvision.desktop;\n' >> "$list"
        fi
    fi
fi
echo "HipVision installed in the desktop menu ($DATA/applications/hipvision.desktop, runs $exe)"
