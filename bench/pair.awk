# The fastest pairing a user writes by hand: one pass, issue time by "dev sector", D2C on complete.
# usage: mawk -f bench/pair.awk perf.txt
{
  for (i = 1; i <= NF; i++) if ($i ~ /^block:block_rq_(issue|complete):$/) break
  if (i > NF) next
  ts = $(i - 1); sub(/:$/, "", ts)
  key = $(i + 1) " " ($(i + 3) ~ /^\(/ ? $(i + 4) : $(i + 5))
  if ($i == "block:block_rq_issue:") { start[key] = ts; next }
  if (key in start) { d = ts - start[key]; delete start[key]; n++; sum += d; if (d > max) max = d }
}
END { printf "pairs %d mean_us %.3f max_us %.3f\n", n, n ? sum / n * 1e6 : 0, max * 1e6 }
