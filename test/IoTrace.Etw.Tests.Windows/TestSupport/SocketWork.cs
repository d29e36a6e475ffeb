using System.Net;
using System.Net.Sockets;
using IoTrace.Tests.Shared;

namespace IoTrace.Etw.Tests.Windows.TestSupport;

/// <summary>Socket work whose lines the tests assert.</summary>
internal static class SocketWork
{
    public static int ConnectLine => SourceLines.Of("// the connect");

    public static int SendLine => SourceLines.Of("// the send");

    public static int ReceiveLine => SourceLines.Of("// the receive");

    public static void Exchange(int port, int send, int receive)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(IPAddress.Loopback, port); // the connect
        socket.Send(new byte[send]); // the send
        var buffer = new byte[receive];
        for (var received = 0; received < receive;)
        {
            received += socket.Receive(buffer, received, receive - received, SocketFlags.None); // the receive
        }
    }
}
