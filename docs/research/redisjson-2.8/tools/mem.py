import sys, json
sys.path.insert(0,'/tmp/rjres/tools')
from rt_lib import Conn, show
port=int(sys.argv[1]); mod = sys.argv[2] if len(sys.argv)>2 else 'json'
doc = {
 "id": 12345, "name": "Widget Pro 3000", "active": True, "price": 199.99, "tags": ["tools","hardware","pro","sale"],
 "dimensions": {"width": 12.5, "height": 8.25, "depth": 3.0, "unit": "cm"},
 "owner": {"user": "alice", "email": "alice@example.com", "roles": ["admin","editor"], "age": 34},
 "description": "A reliable widget for professional use with many features and long description text here.",
 "ratings": [5,4,5,3,4,5,5,4],
 "history": [{"ts": 1700000000, "event": "created", "by": "alice"}, {"ts": 1700003600, "event": "updated", "by": "bob"},
             {"ts": 1700007200, "event": "priced", "by": "carol"}],
 "meta": {"source": "import", "version": 7, "flags": {"a": True, "b": False, "c": None}, "notes": None},
 "sku": "WP-3000-XL-BLUE", "stock": {"warehouse_a": 120, "warehouse_b": 0, "warehouse_c": 37},
 "related": [111, 222, 333, 444, 555], "color": "blue", "weight_kg": 1.75, "country": "DE",
 "barcode": "4006381333931", "created": "2023-11-14T22:13:20Z", "updated": "2023-11-15T00:13:20Z",
 "extra": {"k1":"v1","k2":"v2","k3":"v3","k4":"v4","k5":"v5"}
}
s = json.dumps(doc, separators=(',',':'))
print('doc bytes (compact JSON):', len(s))
a = Conn(port, 2)
a.call(['FLUSHALL'])
a.call(['CONFIG','SET','save',''])
def used():
    info = a.call(['INFO','memory'])[1].decode()
    return int([l for l in info.split('\r\n') if l.startswith('used_memory:')][0].split(':')[1])
if mod=='json':
    a.call(['JSON.SET','probe','$',s])
    print('JSON.DEBUG MEMORY probe:', show(a.call(['JSON.DEBUG','MEMORY','probe'])))
    print('MEMORY USAGE probe:', show(a.call(['MEMORY','USAGE','probe'])))
    print('JSON.GET == input:', a.call(['JSON.GET','probe'])[1].decode()==s)
    a.call(['DEL','probe'])
N=1000
for rnd in range(2):
    a.call(['FLUSHALL']); 
    import time; time.sleep(0.2)
    u0=used()
    for i in range(N):
        if mod=='json': a.call(['JSON.SET','doc:%04d'%i,'$',s])
        else: a.call(['SET','doc:%04d'%i,s])
    u1=used()
    print('round',rnd,'mode',mod,'used_memory before',u0,'after',u1,'delta/key',(u1-u0)/N)
print('MEMORY USAGE doc:0001:', show(a.call(['MEMORY','USAGE','doc:0001'])))
a.call(['FLUSHALL'])
