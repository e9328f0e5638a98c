import struct, socket, sys
POLY=0x95ac9329ac4bc9b5  # reflected form of 0xad93d23594c935a9
T=[]
for i in range(256):
    c=i
    for _ in range(8):
        c = (c>>1)^POLY if c&1 else c>>1
    T.append(c)
def crc64(data, crc=0):
    for b in data: crc = T[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc
assert crc64(b"123456789")==0xe9c6d914c4b8d9ca, hex(crc64(b"123456789"))
def rlen(n):
    if n<64: return bytes([n])
    if n<16384: return bytes([0x40|(n>>8), n&0xff])
    if n<=0xffffffff: return b'\x80'+struct.pack('>I',n)
    return b'\x81'+struct.pack('>Q',n)
cs='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
def mid(name,ver):
    i=0
    for c in name: i=(i<<6)|cs.index(c)
    return (i<<10)|ver
def U(n): return b'\x02'+rlen(n)
def S(n): return b'\x02'+rlen(n & 0xffffffffffffffff)
def D(x): return b'\x04'+struct.pack('<d',x)
def STR(b): 
    if isinstance(b,str): b=b.encode()
    return b'\x05'+rlen(len(b))+b
def payload(encver, body, rdbver=10):
    p = b'\x07' + rlen(mid('ReJSON-RL',encver)) + body + b'\x00'
    p += struct.pack('<H', rdbver)
    return p + struct.pack('<Q', crc64(p))
def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out
def call(port,args):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(enc(args))
    import time; time.sleep(0.2); return s.recv(65536)
