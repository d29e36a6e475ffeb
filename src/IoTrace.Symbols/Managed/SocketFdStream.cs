using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Reads an EventPipe session's socket with plain read(2)/poll(2) instead of through .NET's socket engine.
/// </summary>
/// <remarks>
/// Why: the sessions stream from this very process. When a session stops, the runtime writes its last events (and
/// the rundown) into the socket from inside its stop command, holding EventPipe's lock, and waits whenever the socket
/// is full. Reading that stream with TraceEvent directly (managed socket code, JIT, allocations, GCs) deadlocked
/// about one stop in two in a fresh process: the reader waited inside the runtime while a runtime thread waited for
/// the lock. A read(2) loop over a preallocated buffer needs nothing from the runtime while it waits.
/// </remarks>
internal sealed partial class SocketFdStream : Stream
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const short POLLIN = 0x1;
    private const int PollMilliseconds = 100;

    private readonly SafeHandle _handle;
    private readonly int _fd;
    private bool _addedRef;
    private volatile bool _closed;

    private SocketFdStream(SafeHandle handle)
    {
        _handle = handle;
        handle.DangerousAddRef(ref _addedRef);
        _fd = (int)handle.DangerousGetHandle();
    }

    /// <summary>A raw reader over <paramref name="stream"/>'s socket, or the stream itself where there is none.</summary>
    public static Stream Wrap(Stream stream) =>
        !OperatingSystem.IsWindows() && stream is NetworkStream { Socket: { } socket } ? new SocketFdStream(socket.SafeHandle) : stream;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return Read(buffer.AsSpan(offset, count));
    }

    public override unsafe int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        fixed (byte* data = buffer)
        {
            while (!_closed)
            {
                var read = ReadFd(_fd, data, buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    // The socket is non-blocking (the client connected it asynchronously): wait for data, waking up
                    // now and then to notice Dispose.
                    var poll = new PollFd { Fd = _fd, Events = POLLIN };
                    _ = Poll(&poll, 1, PollMilliseconds);
                }
                else if (errno != EINTR)
                {
                    throw new IOException($"read from the EventPipe socket failed: errno {errno}");
                }
            }
        }

        return 0;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!_closed)
        {
            _closed = true;
            if (_addedRef)
            {
                _handle.DangerousRelease();
                _addedRef = false;
            }
        }

        base.Dispose(disposing);
    }

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadFd(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
