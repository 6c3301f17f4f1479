#!/usr/bin/env bash
# Install everything deskhand needs on Debian 12 (run as root, or with sudo available):
# the desktop's Debian packages and a Python virtual environment in .venv with deskhand in it.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  # the sandbox and the desktop
  bubblewrap xvfb xauth openbox tint2 x11-xserver-utils x11-utils x11vnc
  # the apps a person expects: terminal, text editor, calculator, file manager, browser
  xterm mousepad galculator pcmanfm chromium
  fonts-dejavu-core fonts-wqy-microhei adwaita-icon-theme procps
  # GNOME settings (gsettings and the desktop schemas) that OSWorld's settings tasks change
  libglib2.0-bin gsettings-desktop-schemas
  # the reference demo's tools, measured side by side by `deskhand bench`
  xdotool scrot imagemagick
  # Python
  python3 python3-venv python3-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deskhand setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's own Python lives under /usr, which the sandbox already sees read-only.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "deskhand setup: done (.venv/bin/deskhand)"
