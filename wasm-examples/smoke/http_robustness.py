"""Bad requests, 300 sequential requests and an idle client against http-hello: http_robustness.py PORT"""
import socket, time, sys, urllib.request
port = int(sys.argv[1])
def raw(data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if data: s.sendall(data)
    s.shutdown(socket.SHUT_WR) if data is not None else None
    out = b""
    while True:
        try: b = s.recv(4096)
        except socket.timeout: return out + b"<timeout>"
        if not b: break
        out += b
    s.close(); return out
for req in [b"garbage\r\n\r\n", b"GET /\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n", b"get / HTTP/1.1\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n", b"GET /%zz HTTP/1.1\r\n\r\n", b"\xff\xfe\r\n\r\n", b"GET / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\r\nX: " + b"a"*20000 + b"\r\n\r\n", b"", b"GET /healthz HTTP/1.0\n\n"]:
    print(repr(req[:40]), "->", raw(req).split(b"\r\n")[0])
t = time.time()
for i in range(300):
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read() == b"ok\n"
print("300 sequential ok in %.2fs" % (time.time() - t))
# idle client: connect and send nothing, then a real request must still be served
idle = socket.create_connection(("127.0.0.1", port)); t = time.time()
r = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30).read()
print("after idle client: %r in %.1fs" % (r, time.time() - t))
