#!/usr/bin/env bash
# Run HERE (pip and the internet), in the repository, before asking for a GPU machine: puts into .whl/
# the wheels the lent machine's image lacks for grading (its python3 is 3.12 with torch; no nbgrader,
# no Jupyter kernel stack, no Dask). Jupyter's web front ends are left out: grading never imports them.
# Then: run(command="bash bench/gpu_checks.sh", carry=[".whl"], timeout_s=600). About 41 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qxF '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
ALL=$(mktemp -d)
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$ALL" \
  'nbgrader>=0.9,<0.10' 'nbclient>=0.8' 'nbformat>=5.7' 'ipykernel>=6' 'jupyter_client>=7' 'datasets>=2.14' \
  'fastcore>=1.5' 'fastprogress>=1.0' 'torcheval>=0.0.7' 'distributed>=2023.1' 'tqdm>=4.60'
# On the image already (/work/.library/device/KINDS.md, 2026-11-17), or never imported by the grader:
SKIP=" absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal anyio attrs certifi charset-normalizer click
 cloudpickle contourpy cycler filelock fonttools frozenlist fsspec h11 hf-xet httpcore httpx huggingface-hub idna
 jinja2 kiwisolver markupsafe matplotlib msgpack multidict numpy packaging pandas pillow pip platformdirs
 prometheus-client propcache psutil pyarrow pygments pyparsing python-dateutil pyyaml regex requests rich
 setuptools six sortedcontainers toolz torch tqdm typing-extensions urllib3 xxhash yarl zipp
 jupyterlab notebook babel widgetsnbextension jupyterlab-server notebook-shim jupyter-lsp json5 async-lru
 jupyter-builder jupyterlab-widgets ipywidgets "
rm -rf .whl && mkdir .whl
for w in "$ALL"/*.whl; do
  name=$(basename "$w" | cut -d- -f1 | tr 'A-Z_.' 'a-z--')
  case "$SKIP" in *" $name "*) ;; *) cp "$w" .whl/ ;; esac
done
rm -rf "$ALL"
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/ (the working tree may carry 64 MiB in all)"
