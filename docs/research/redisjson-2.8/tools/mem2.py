import sys, json, time
sys.path.insert(0,'/tmp/rjres/tools')
from rt_lib import Conn, show
exec(open('/tmp/rjres/tools/mem.py').read().split("s = json.dumps")[0].split("port=int")[1].split("\n",1)[1])
port=int(sys.argv[1])
def uniq(o, i):
    if isinstance(o, dict): return {k: uniq(v, i) for k, v in o.items()}
    if isinstance(o, list): return [uniq(v, i) for v in o]
    if isinstance(o, str): return o + '-%04d' % i
    return o
a=Conn(port,2); a.call(['FLUSHALL']); time.sleep(0.2)
def used():
    info = a.call(['INFO','memory'])[1].decode()
    return int([l for l in info.split('\r\n') if l.startswith('used_memory:')][0].split(':')[1])
u0=used(); tot=0; dm=0
for i in range(1000):
    s=json.dumps(uniq(doc,i),separators=(',',':')); tot+=len(s)
    a.call(['JSON.SET','doc:%04d'%i,'$',s])
    if i==1: dm=a.call(['JSON.DEBUG','MEMORY','doc:0001'])[1]
u1=used()
print('unique-string docs: avg json bytes',tot/1000,'JSON.DEBUG MEMORY doc:0001',dm,'MEMORY USAGE',a.call(['MEMORY','USAGE','doc:0001'])[1],'used_memory delta/key',(u1-u0)/1000)
a.call(['FLUSHALL'])
