using System.Runtime.CompilerServices;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;

namespace IoTrace.Symbols.Tests.Managed;

/// <summary>One map for the class (sessions cost a start each), plus a probe of a method jitted before it started.</summary>
public sealed class ManagedCodeMapFixture : IDisposable
{
    public ManagedCodeMapFixture()
    {
        // Jitted and run before the map exists: only the rundown can tell the map about it.
        BeforeStart = JittedBeforeStart();

        if (!ManagedCodeMap.TryStart(TimeSpan.FromSeconds(30), out var map, out var reason))
        {
            throw new InvalidOperationException($"ManagedCodeMap did not start: {reason}");
        }

        Map = map!;
    }

    internal ManagedCodeMap Map { get; }

    internal StackProbe BeforeStart { get; }

    public void Dispose() => Map.Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StackProbe JittedBeforeStart()
    {
        return StackProbe.Capture();
    }
}
