using System.Globalization;
using IoTrace.DTrace.Consumer;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

/// <summary>
/// The parser against dtrace's own output: recordings (<c>IOTRACE_DTRACE_RECORDING</c>) of the test host's
/// <see cref="FileSystemWork"/> trace, one per OS where the backend has run. <c>linux-x64-filesystemwork.txt</c>: DTrace
/// for Linux 2.0.1.1, kernel 6.18, x64, recorded 2026-12-08 with
/// <c>IOTRACE_DTRACE_RECORDING=FILE dotnet IoTrace.DTrace.Tests.Host.dll files /tmp/iotrace-recording</c>. A change of
/// the script's line format or of the system call table's order must record it again.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceRecordingTests
{
    private const string Root = "/tmp/iotrace-recording";

    [Fact]
    public void Parse_LinuxRecordingOfFileSystemWork_EveryLineReadAndTheWorksCallsAsStraceCountedThem()
    {
        Requires.Linux();
        var parser = new DTraceLineParser();
        var calls = new List<DTraceCall>();
        var markers = 0;

        foreach (var line in File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Consumer", "Recordings", "linux-x64-filesystemwork.txt")))
        {
            switch (line[0])
            {
                case 'C' or 'P':
                    calls.Add(Assert.IsType<DTraceCall>(parser.ParseCall(line)));
                    break;
                case 'F':
                    Assert.True(DTraceLineParser.TryParseMarker(line, out _, out _), line);
                    markers++;
                    break;
                default:
                    Assert.Contains(line, (string[])["R", "T"]);
                    break;
            }
        }

        // One trace, flushed at its stop (a marker per CPU at least).
        Assert.Single(calls.Select(static c => c.Trace).Distinct());
        Assert.True(markers >= 1);

        // The process's first File.Copy asks whether the kernel has copy_file_range, on fd -1 (which the script prints as
        // the 32-bit argument it is).
        Assert.Equal([(-1, 0L), (96, 3000L)], calls.Where(static c => c.Syscall.Probe == "copy_file_range").Select(static c => (c.Fd, c.Bytes)));

        // The calls that only the work makes, as strace counted them on its paths, fds and socket (docs/accuracy.md). A
        // call by path elsewhere is the runtime's, loading an assembly in the trace (realpath's readlinks of /usr/...).
        var work = FileSystemWork.Folder(Root);
        var theWorks = calls.Where(c => c.Target is null or "" || c.Target == work || c.Target.StartsWith(work + "/", StringComparison.Ordinal)).ToList();
        string[] onlyTheWork =
        [
            "bind 1 0", "chmod 1 0", "copy_file_range 1 3000", "fchmod 1 0", "fsync 1 0", "ftruncate 2 0", "getdents64 2 136",
            "getsockname 1 0", "getsockopt 1 0", "listen 1 0", "mkdir 1 0", "pwrite64 1 3000", "readlink 1 0", "rename 1 0",
            "rmdir 1 0", "setsockopt 2 0", "symlink 1 0", "utimensat 2 0",
        ];
        var probes = onlyTheWork.Select(static t => t.Split(' ')[0]).ToHashSet();
        Assert.Equal(onlyTheWork, theWorks.Where(c => probes.Contains(c.Syscall.Probe) && !(c.Syscall.Probe == "copy_file_range" && c.Fd == -1)).GroupBy(static c => c.Syscall.Probe).OrderBy(static g => g.Key, StringComparer.Ordinal)
            .Select(static g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Count()} {g.Sum(static c => c.Bytes)}")));

        // The paths the work named, as the script copied them in.
        Assert.Equal([$"{work}/copy.bin"], calls.Where(static c => c.Syscall.Probe == "rename").Select(static c => c.Target));
        Assert.Equal([$"{work}/link"], calls.Where(static c => c.Syscall.Probe == "symlink").Select(static c => c.Target));
        Assert.Contains(calls, c => c.Syscall.Probe == "openat" && c.Target == $"{work}/original.bin" && c.Fd >= 0);

        // With All, every call has a stack, its first frame the wrapper's return address.
        Assert.All(calls, static c => Assert.NotEmpty(c.Stack));
    }
}
