import sys, shlex, time, socket, threading
sys.path.insert(0,'/tmp/rjres/tools')
from rt_lib import Conn, show
port=int(sys.argv[1]); path=sys.argv[2]
admin=Conn(port,2)
admin.call(['CONFIG','SET','notify-keyspace-events','KEA'])
admin.call(['FLUSHALL'])
sub=Conn(port,2)
sub.call(['PSUBSCRIBE','__key*__:*'])
def drain():
    evs=[]
    sub.s.sendall(b"*1\r\n$4\r\nPING\r\n")
    while True:
        m=sub.read()
        d=m[1]
        if d[0][1]==b'pong': break
        evs.append((d[2][1].decode(), d[3][1].decode()))
    return evs
for l in open(path):
    l=l.rstrip('\n')
    if not l.strip() or l.startswith('#'): continue
    if l.startswith('## '): print('\n'+l); continue
    r=admin.call(shlex.split(l))
    evs=drain()
    # condense: keyevent channel gives event name, keyspace channel gives key
    ks=[(ch.split(':',1)[1], msg) for ch,msg in evs if ch.startswith('__keyspace@')]
    print('> %s\n  reply: %s\n  events: %s' % (l, show(r)[:120], ', '.join('%s(%s)'%(m,k) for k,m in ks) or '(none)'))
admin.call(['CONFIG','SET','notify-keyspace-events',''])
