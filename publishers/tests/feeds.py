"""Real feed documents and a local HTTP server that serves them, some on purpose badly."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Go blog</title>
    <link>https://go.example.com/</link>
    <description>News</description>
    <item>
      <title>Go 1.30 is released</title>
      <link>https://go.example.com/go1.30</link>
      <guid isPermaLink="false">go-1.30</guid>
      <description>&lt;p&gt;Faster &lt;b&gt;builds&lt;/b&gt; &amp;amp; more.&lt;/p&gt;</description>
      <category>Golang</category>
      <category>release</category>
      <pubDate>Tue, 10 Nov 2026 09:00:00 +0000</pubDate>
    </item>
    <item>
      <title>Generics, two years on</title>
      <link>https://go.example.com/generics</link>
      <guid>https://go.example.com/generics</guid>
      <pubDate>Mon, 02 Nov 2026 12:30:00 +0100</pubDate>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Python insider</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-11-20T18:30:02Z</updated>
  <entry>
    <title type="html">Python 3.15 &amp;lt;beta&amp;gt;</title>
    <link href="https://py.example.com/3.15"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2026-11-20T18:30:02Z</updated>
    <summary>Try it.</summary>
    <category term="python"/>
  </entry>
</feed>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol4;</title>
<item><title>&lol4;</title><guid>x</guid></item></channel></rss>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&xxe;</title><guid>x</guid></item></channel></rss>
"""


@dataclass
class FeedServer:
    base: str
    #: path -> (status, content type, body, seconds to wait between chunks)
    routes: dict[str, tuple[int, str, bytes, float]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    feeds = FeedServer(base=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feeds.hits.append(self.path)
            status, content_type, body, drip = feeds.routes.get(
                self.path, (404, "text/plain", b"", 0)
            )
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.end_headers()
                for start in range(0, len(body), 64 if drip else len(body) or 1):
                    self.wfile.write(body[start : start + (64 if drip else len(body))])
                    self.wfile.flush()
                    time.sleep(drip)
            except OSError:  # the client gave up
                pass

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield feeds
    finally:
        server.shutdown()
        server.server_close()
