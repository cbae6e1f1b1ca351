"""A TCP door in front of a real service (Postgres, Redis) that a test can shut and open again:
shut, it refuses new connections and cuts the open ones, as when the service goes away."""

from __future__ import annotations

import asyncio
import contextlib

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class TcpDoor:
    def __init__(self, *, host: str | None = None, port: int | None = None,
                 unix_path: str | None = None):
        self.target_host, self.target_port, self.unix_path = host, port, unix_path
        self.port = 0
        """Where clients connect: 127.0.0.1 and this port (chosen when first opened)."""
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()

    @classmethod
    async def before_postgres(cls, database_url: str) -> TcpDoor:
        """An open door in front of the Postgres at `database_url` (TCP or unix socket)."""
        params = conninfo_to_dict(database_url)
        host, port = params.get("host") or "127.0.0.1", int(params.get("port") or 5432)
        door = cls(**({"unix_path": f"{host}/.s.PGSQL.{port}"} if host.startswith("/")
                      else {"host": host, "port": port}))
        return await door.open()

    def postgres_url(self, database_url: str, **options: str) -> str:
        """`database_url` through this door."""
        return make_conninfo(database_url, host="127.0.0.1", port=self.port, **options)

    async def open(self) -> TcpDoor:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def shut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _connect(self, client_reader: asyncio.StreamReader,
                       client_writer: asyncio.StreamWriter) -> None:
        if self.unix_path:
            reader, writer = await asyncio.open_unix_connection(self.unix_path)
        else:
            reader, writer = await asyncio.open_connection(self.target_host, self.target_port)
        pipes = [asyncio.create_task(self._pipe(client_reader, writer)),
                 asyncio.create_task(self._pipe(reader, client_writer))]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
                self._pipes.discard(pipe)
            for end in (writer, client_writer):
                with contextlib.suppress(Exception):
                    end.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
