using System.Globalization;
using IoTrace;
using Microsoft.Data.Sqlite;

// Usage: IoTrace.Tests.Target <read|sqlite|files|sparse|eintr|temp> <path>
// Runs one workload inside a trace and prints each aggregate as a tab-separated line: probe, target, file, line,
// calls, bytes. The caller runs this under strace and compares (tests assert lines of this file: keep them put).
var mode = args[0];
var path = args[1];

var report = mode switch
{
    "read" => IoTracer.Trace(Strategy.All, () => ReadInChunks(path)),
    "sqlite" => IoTracer.Trace(Strategy.All, () => QuerySqlite(path)),
    _ => OtherWork(mode, path),
};

foreach (var a in report.Aggregates)
{
    Console.Out.WriteLine(string.Join('\t', a.Probe, a.Target, a.File, a.Line?.ToString(CultureInfo.InvariantCulture), a.Calls.ToString(CultureInfo.InvariantCulture), a.Bytes.ToString(CultureInfo.InvariantCulture)));
}

return 0;

static void ReadInChunks(string path)
{
    using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
    var buffer = new byte[4096];
    while (file.Read(buffer) > 0)
    {
    }
}

static void QuerySqlite(string path)
{
    using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
    connection.Open();
    using var command = connection.CreateCommand();
    command.CommandText = "SELECT count(*), sum(length(payload)) FROM items";
    using var reader = command.ExecuteReader();
    reader.Read();
    Console.Error.WriteLine($"rows={reader.GetInt64(0)}");
}

// Strange IO (StrangeIoTests), and file-system work beyond reads and writes. A workload that sees wrong data says so on
// stderr and exits non-zero.
static IoTraceReport OtherWork(string mode, string path) => mode switch
{
    "files" => IoTracer.Trace(Strategy.All, () => IoTrace.Tests.Shared.FileSystemWork.Run(path)),
    "sparse" => IoTracer.Trace(Strategy.All, () => ReadSparse(path)),
    "eintr" => InterruptedPipeRead(),
    "temp" => TemporaryFileAndFolder(path),
    _ => throw new ArgumentException($"Unknown mode '{mode}'. Allowed values: read, sqlite, files, sparse, eintr, temp."),
};

// The caller made a sparse file with these bytes at these offsets (StrangeIoTests); zeros elsewhere.
// Offsets past 2^31 and 2^32 catch a hook that truncates pread64's 64-bit offset: 2^32 + 100 would read offset 100.
static void ReadSparse(string path)
{
    using var handle = File.OpenHandle(path);
    var buffer = new byte[4096];
    Expect("zero-length read", 0, RandomAccess.Read(handle, Span<byte>.Empty, 0));
    Expect("read past 2^31", 4096, RandomAccess.Read(handle, buffer, (1L << 31) + 100));
    Expect("bytes past 2^31", 4096, buffer.Count(b => b == 0xA1));
    Expect("read past 2^32", 4096, RandomAccess.Read(handle, buffer, (1L << 32) + 100));
    Expect("bytes past 2^32", 4096, buffer.Count(b => b == 0xB2));
    Expect("read at end of file", 0, RandomAccess.Read(handle, buffer, RandomAccess.GetLength(handle)));
}

// A blocking pipe read, interrupted by a signal sent to its thread while it waits in the kernel. .NET installs its
// handlers with SA_RESTART, so the kernel restarts the read (strace shows "= ? ERESTARTSYS" and the read again) and
// libc's read() returns once, with the data written after the signal was handled.
static IoTraceReport InterruptedPipeRead()
{
    if (!OperatingSystem.IsLinux())
    {
        throw new PlatformNotSupportedException("The eintr mode sends a Linux signal to a thread.");
    }

    using var handled = new SemaphoreSlim(0);
    using var registration = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGWINCH, context =>
    {
        context.Cancel = true;
        handled.Release();
    });
    using var reader = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
    using var writer = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.Out, reader.ClientSafePipeHandle);
    var tid = 0;
    var read = -1;
    IoTraceReport? traced = null;
    var thread = new Thread(() =>
    {
        Volatile.Write(ref tid, Native.gettid());
        traced = IoTracer.Trace(Strategy.All, () => read = reader.Read(new byte[100]));
    });
    thread.Start();

    WaitUntilBlockedInRead(thread, () => Volatile.Read(ref tid));
    Expect("tgkill", 0, Native.tgkill(Environment.ProcessId, Volatile.Read(ref tid), 28 /* SIGWINCH */));
    Expect("signal handled", 1, handled.Wait(TimeSpan.FromSeconds(30)) ? 1 : 0);
    writer.Write("hello"u8);
    Expect("reader thread ended", 1, thread.Join(TimeSpan.FromSeconds(30)) ? 1 : 0);
    Expect("bytes read", 5, read);
    return traced!;
}

static void WaitUntilBlockedInRead(Thread thread, Func<int> tid)
{
    // read is syscall 0 on x64, 63 on arm64; "S" is the sleep of a blocked syscall.
    var readSyscall = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "63" : "0";
    var blocked = SpinWait.SpinUntil(
        () => tid() != 0
            && File.ReadAllText($"/proc/self/task/{tid()}/syscall").Split(' ')[0] == readSyscall
            && File.ReadAllText($"/proc/self/task/{tid()}/stat").Split(") ")[1].StartsWith('S'),
        TimeSpan.FromSeconds(30));
    Expect("blocked in read", 1, blocked && thread.IsAlive ? 1 : 0);
}

static void Expect(string what, long expected, long actual)
{
    if (expected != actual)
    {
        Console.Error.WriteLine($"{what}: expected {expected}, got {actual}");
        Environment.Exit(3);
    }
}

// A temporary file and folder made under the path (TMPDIR), then removed: glibc's mkstemps and mkdtemp open and mkdir
// inside libc, on the names they choose.
static IoTraceReport TemporaryFileAndFolder(string root)
{
    Environment.SetEnvironmentVariable("TMPDIR", root);
    return IoTracer.Trace(Strategy.All, () =>
    {
        var file = Path.GetTempFileName();
        var folder = Directory.CreateTempSubdirectory("iotrace-").FullName;
        if (Path.GetDirectoryName(file) != Path.TrimEndingDirectorySeparator(root))
        {
            Console.Error.WriteLine($"the temporary file {file} is not under {root}");
            Environment.Exit(3);
        }

        File.Delete(file);
        Directory.Delete(folder);
    });
}

internal static class Native
{
    [System.Runtime.InteropServices.DllImport("libc")]
    public static extern int gettid();

    [System.Runtime.InteropServices.DllImport("libc")]
    public static extern int tgkill(int tgid, int tid, int signal);
}
