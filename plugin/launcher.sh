#!/bin/sh
# cc-aws-keepalive launcher (bin/cc-aws-keepalive in the npm plugin package): runs this
# platform's binary from bin/<target>/, with the same arguments. Only the plugin's SessionStart
# hook and a person's `setup` go through it; the per-prompt hooks run the binaries directly.
case $0 in
*/*) dir=${0%/*} ;;
*) dir=. ;;
esac
os=$(uname -s 2>/dev/null) || os=unknown
arch=$(uname -m 2>/dev/null) || arch=unknown
case $arch in
x86_64 | amd64 | AMD64) cpu=x86_64 ;;
aarch64 | arm64 | ARM64) cpu=aarch64 ;;
*) cpu= ;;
esac
# Best first; the later ones run through the system's emulation (Rosetta 2, Windows on Arm).
case $os in
Linux) targets="$cpu-unknown-linux-gnu $cpu-unknown-linux-musl" ;;
Darwin) targets="$cpu-apple-darwin x86_64-apple-darwin" ;;
MINGW* | MSYS* | CYGWIN* | Windows_NT) targets="$cpu-pc-windows-msvc x86_64-pc-windows-msvc" ;;
*) targets= ;;
esac
[ -n "$cpu" ] || targets=
for t in $targets; do
    for exe in "$dir/$t/cc-aws-keepalive" "$dir/$t/cc-aws-keepalive.exe"; do
        if [ -f "$exe" ] && [ -x "$exe" ]; then
            exec "$exe" "$@"
        fi
    done
done
have=
for d in "$dir"/*/; do
    [ -d "$d" ] || continue
    d=${d%/}
    have="$have ${d##*/}"
done
echo "cc-aws-keepalive: this package has no binaries for $os $arch (it has:${have:- none}); install from source instead: cargo install cc-aws-keepalive" >&2
exit 1
