using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;

namespace IoTrace.Benchmarks;

/// <summary>A 1-byte <see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/> of a small cached file: one pread64.</summary>
[SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] closes them.")]
public class FileReadOverhead : IoCallOverhead
{
    private readonly byte[] _buffer = new byte[1];
    private string? _path;
    private SafeFileHandle? _file;

    protected override int CallsPerOperation => 1;

    protected override void Open()
    {
        _path = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.bin");
        File.WriteAllBytes(_path, new byte[4096]);
        _file = File.OpenHandle(_path);
    }

    protected override void Close()
    {
        _file?.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }

    protected override long Operation() => RandomAccess.Read(_file!, _buffer, 0);
}
