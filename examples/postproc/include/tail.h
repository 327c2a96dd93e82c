# tail.h — the bottom of every postproc job: report complete (unchanged from ecFlow's but for
# the command name).
wait
trap - EXIT HUP INT TERM
child --complete
exit 0
