import sys, shlex
sys.argv_saved = sys.argv
sys.path.insert(0, '/tmp/rjres/tools')
from rt_lib import Conn, show
port = int(sys.argv[1]); proto = int(sys.argv[2]) if len(sys.argv) > 2 else 2
c = Conn(port, proto)
for l in sys.stdin:
    l = l.rstrip('\n')
    if not l.strip() or l.startswith('#'): continue
    print('> ' + l); print('  ' + show(c.call(shlex.split(l))))
