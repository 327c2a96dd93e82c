# fxp.h — one FxP line of one cycle: read it from raw/, "post-process" it, write the FPP record
# to processed/ (on the FMI chain: a small program reading one forecast point and writing its
# product, its metadata going to the NEONS database), with the node that made it. The line is
# CHUNK × 10 + the digit of the task's name (fxp0 … fxp9).
t=%TASK%
line=$(( %CHUNK% * 10 + ${t#fxp} ))
raw="$DATA/raw/$line.fxp"
if [ ! -f "$raw" ]; then
  echo "no raw line $line in $DATA/raw" >&2
  exit 1
fi
read -r _ member value < "$raw"
# the "product": a little arithmetic standing in for the real post-processing
product=$(( (value * value + member) %% 9973 ))
printf 'fpp %%d %%d %%s\n' "$member" "$product" "${NUBIS_NODE_ID:-$(hostname)}" > "$DATA/processed/$line.fpp.tmp"
mv "$DATA/processed/$line.fpp.tmp" "$DATA/processed/$line.fpp"
