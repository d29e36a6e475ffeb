using IoTrace.Platform.Linux;
using Xunit;

namespace IoTrace.Tests.Platform.Linux;

public sealed class LinuxSyscallTests
{
    /// <summary>A trace without context skips the runtime check for these calls only: none of them is a file's.</summary>
    [Fact]
    public void IsSocketOnly_X64Table_MarksTheSocketCallsAlone()
    {
        var marked = LinuxSyscalls.X64.Where(static c => c.IsSocketOnly).Select(static c => c.Name).Order(StringComparer.Ordinal);

        Assert.Equal(
            ["accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recvfrom", "recvmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket", "socketpair"],
            marked);
    }
}
