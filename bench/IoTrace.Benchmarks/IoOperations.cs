using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace IoTrace.Benchmarks;

/// <summary>An IO operation a benchmark repeats: what <see cref="FileReadOverhead"/> and <see cref="SocketRoundTripOverhead"/> do, for other benchmarks.</summary>
internal interface IIoOperation : IDisposable
{
    /// <summary>IO calls one operation makes.</summary>
    int Calls { get; }

    /// <summary>One operation.</summary>
    long Run();
}

/// <summary>A 1-byte <see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/> of a cached 4 KiB file: one pread64.</summary>
internal sealed class FileReadOperation : IIoOperation
{
    private readonly byte[] _buffer = new byte[1];
    private readonly string _path;
    private readonly SafeFileHandle _file;

    public FileReadOperation()
    {
        _path = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.bin");
        File.WriteAllBytes(_path, new byte[4096]);
        _file = File.OpenHandle(_path);
    }

    public int Calls => 1;

    public long Run() => RandomAccess.Read(_file, _buffer, 0);

    public void Dispose()
    {
        _file.Dispose();
        File.Delete(_path);
    }
}

/// <summary>One byte sent on a connected loopback TCP socket and received on its peer: sendto + recvfrom, two calls.</summary>
internal sealed class SocketRoundTripOperation : IIoOperation
{
    private readonly byte[] _buffer = new byte[1];
    private readonly Socket _client;
    private readonly Socket _server;

    public SocketRoundTripOperation()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(listener.LocalEndPoint!);
        _server = listener.Accept();
    }

    public int Calls => 2;

    public long Run()
    {
        _client.Send(_buffer);
        return _server.Receive(_buffer);
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
    }
}

/// <summary>
/// A query for one row of a small SQLite database on an open connection, its page already cached: e_sqlite3 (no
/// frame pointers) makes 8 system calls per query, to start and end its read transaction: 4 fcntl locks, an fstat,
/// 2 stats of the journal's and WAL's names, and a pread64 of the file's change counter.
/// </summary>
internal sealed class SqliteQueryOperation : IIoOperation
{
    private readonly string _path;
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _query;

    public SqliteQueryOperation()
    {
        _path = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.db");
        _connection = new SqliteConnection($"Data Source={_path};Pooling=False");
        _connection.Open();
        using (var create = _connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) INSERT INTO items SELECT i, zeroblob(100) FROM n;";
            create.ExecuteNonQuery();
        }

        _query = _connection.CreateCommand();
        _query.CommandText = "SELECT length(payload) FROM items WHERE id = 7";
    }

    public int Calls => 8;

    public long Run() => (long)_query.ExecuteScalar()!;

    public void Dispose()
    {
        _query.Dispose();
        _connection.Dispose();
        File.Delete(_path);
    }
}
