#!/usr/bin/env python3
"""Run a transcript script against a server; print typed exact replies for RESP2 and RESP3,
and (optionally) redis-cli --no-raw / -3 renderings.
Script format: '## title' starts a block (FLUSHALL before it, not shown); '#' comment; other
lines are commands in shell-like quoting (shlex)."""
import socket, sys, shlex, subprocess, json

def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out

class Conn:
    def __init__(self, port, proto):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
        if proto == 3:
            self.call(["HELLO", "3"])
    def call(self, args):
        self.s.sendall(enc(args))
        return self.read()
    def line(self):
        l = self.f.readline()
        assert l.endswith(b"\r\n"), l
        return l[:-2]
    def read(self):
        l = self.line()
        t, r = chr(l[0]), l[1:]
        if t == '+': return ('simple', r.decode())
        if t == '-': return ('error', r.decode('utf-8', 'backslashreplace'))
        if t == ':': return ('int', int(r))
        if t == '$':
            n = int(r)
            if n < 0: return ('nilbulk', None)
            d = self.f.read(n + 2)[:-2]
            return ('bulk', d)
        if t == '*':
            n = int(r)
            if n < 0: return ('nilarray', None)
            return ('array', [self.read() for _ in range(n)])
        if t == '%':
            n = int(r)
            return ('map', [(self.read(), self.read()) for _ in range(n)])
        if t == '~':
            return ('set', [self.read() for _ in range(int(r))])
        if t == '_': return ('null', None)
        if t == ',': return ('double', r.decode())
        if t == '#': return ('bool', r == b't')
        if t == '(': return ('bignum', r.decode())
        if t == '=':
            d = self.f.read(int(r) + 2)[:-2]
            return ('verbatim', d)
        if t == '>':
            return ('push', [self.read() for _ in range(int(r))])
        raise Exception("unknown type %r" % l)

def show(v):
    t, d = v
    if t == 'simple': return '+' + d
    if t == 'error': return '(error) ' + d
    if t == 'int': return '(integer) %d' % d
    if t == 'bulk':
        try: return json.dumps(d.decode(), ensure_ascii=False)
        except UnicodeDecodeError: return repr(d)
    if t == 'nilbulk': return '(nil bulk $-1)'
    if t == 'nilarray': return '(nil array *-1)'
    if t == 'null': return '(null _)'
    if t == 'double': return '(double ,%s)' % d
    if t == 'bool': return '(bool #%s)' % ('t' if d else 'f')
    if t == 'bignum': return '(bignum %s)' % d
    if t == 'verbatim': return '(verbatim %r)' % d
    if t in ('array', 'set', 'push'):
        o = {'array': '[', 'set': '~[', 'push': '>['}[t]
        return o + ', '.join(show(x) for x in d) + ']'
    if t == 'map':
        return '%{' + ', '.join(show(k) + ': ' + show(x) for k, x in d) + '}'

def blocks(path):
    cur = None
    for raw in open(path):
        l = raw.rstrip('\n')
        if l.startswith('## '):
            cur = [l[3:], []]; yield_ = True
            BL.append(cur)
        elif not l.strip() or l.lstrip().startswith('#'):
            continue
        else:
            cur[1].append(l)
BL = []

def main():
    port = int(sys.argv[1]); path = sys.argv[2]; mode = sys.argv[3] if len(sys.argv) > 3 else 'typed'
    blocks(path)
    admin = Conn(port, 2)
    for title, cmds in BL:
        print('### ' + title)
        if mode == 'merged':
            res = {}
            for proto in (2, 3):
                admin.call(['FLUSHALL'])
                c = Conn(port, proto)
                res[proto] = [show(c.call(shlex.split(cmd))) for cmd in cmds]
            print('```')
            for i, cmd in enumerate(cmds):
                print('> ' + cmd)
                a, b = res[2][i], res[3][i]
                if a == b:
                    print('  ' + a)
                else:
                    print('  R2: ' + a)
                    print('  R3: ' + b)
            print('```')
        elif mode == 'typed':
            for proto in (2, 3):
                admin.call(['FLUSHALL'])
                c = Conn(port, proto)
                print('RESP%d:' % proto)
                print('```')
                for cmd in cmds:
                    args = shlex.split(cmd)
                    r = c.call(args)
                    print('> ' + cmd)
                    print('  ' + show(r))
                print('```')
        else:
            for proto in (2, 3):
                admin.call(['FLUSHALL'])
                print('redis-cli --no-raw%s:' % (' -3' if proto == 3 else ''))
                print('```')
                for cmd in cmds:
                    args = shlex.split(cmd)
                    a = ['redis-cli', '-p', str(port), '--no-raw'] + (['-3'] if proto == 3 else []) + args
                    o = subprocess.run(a, capture_output=True, text=True, errors='backslashreplace').stdout.rstrip('\n')
                    print('> ' + cmd)
                    print('\n'.join('  ' + x for x in o.split('\n')))
                print('```')
        print()
    admin.call(['FLUSHALL'])
