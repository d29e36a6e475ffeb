using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Tracing;
using IoTrace.Platform.Linux;

namespace IoTrace.Backends.InProcess;

/// <summary>
/// Linux, no privileges: rebinds the GOT slots of libSystem.Native (and of native libraries the app ships)
/// to trampolines that call <see cref="IoHook"/>. Slots are patched once, when the first trace starts, and
/// restored by <see cref="Stop"/>; outside traces a trampoline jumps straight to the original.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class InProcessBackend : IIoTraceBackend
{
    public const string BackendName = BackendSelector.InProcess;

    private const string Selected = "Linux: rebinding libSystem.Native's imports in process, no privileges needed";

    private readonly NativeShim _shim;
    private readonly IBackendDiagnostics _diagnostics;
    private readonly Lock _lock = new();
    private readonly SocketPeers _peers = new();
    private bool _installed;
    private bool _failed;
    private string? _failureReason;

    // Replaced by Stop: a trace started on an earlier installation does not decrement the counter of the next one.
    private object _installation = new();

    private InProcessBackend(NativeShim shim, IBackendDiagnostics diagnostics)
    {
        _shim = shim;
        _diagnostics = diagnostics;
        IoHook.Initialize(shim, this, diagnostics);
    }

    public string Name => BackendName;

    public BackendCapabilities Capabilities => BackendCapabilities.MeasuresCpu | BackendCapabilities.HasStacks | BackendCapabilities.CountsSharedConnections;

    /// <summary>Fault injection for tests: while set, installing fails with this reason, as if no slot could be rebound.</summary>
    internal static string? InstallFaultForTests { get; set; }

    internal NativeShim Shim => _shim;

    /// <summary>The shim's count of active traces: trampolines enter managed code only while it is above zero.</summary>
    internal int ActiveTraces => Volatile.Read(ref *_shim.ActiveCounter);

    private static readonly Lock s_createLock = new();
    private static InProcessBackend? s_instance;

    /// <summary>
    /// The process's one instance (its hooks and shim are process-wide), created on first use; under a lock, since its
    /// constructor points the hook at it and each host's tracer may ask at once.
    /// </summary>
    public static bool TryCreate([NotNullWhen(true)] out InProcessBackend? backend, out string reason)
    {
        lock (s_createLock)
        {
            return TryCreateLocked(out backend, out reason);
        }
    }

    private static bool TryCreateLocked([NotNullWhen(true)] out InProcessBackend? backend, out string reason)
    {
        backend = s_instance;
        if (backend is not null)
        {
            reason = Selected;
            return true;
        }

        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            reason = $"the in-process backend supports x64 and arm64, not {RuntimeInformation.ProcessArchitecture}";
            return false;
        }

        if (NativeShim.Shared(out reason) is not { } shim)
        {
            return false;
        }

        backend = s_instance = new InProcessBackend(shim, BackendDiagnostics.Shared);
        reason = Selected;
        return true;
    }

    public IIoTraceBackend? RecorderForNewTrace() => this;

    public bool TryStart(out string reason)
    {
        var enabled = EnsureInstalled();
        reason = enabled ? string.Empty : _failureReason ?? "the hooks could not be installed";
        return enabled;
    }

    public void OnTraceStarted(TraceSession session)
    {
        if (!EnsureInstalled())
        {
            session.MarkIncomplete();
            return;
        }

        lock (_lock)
        {
            session.BackendState = _installation;
            Interlocked.Increment(ref *_shim.ActiveCounter);
        }
    }

    public Task OnTraceStopped(TraceSession session)
    {
        lock (_lock)
        {
            if (_installed && ReferenceEquals(session.BackendState, _installation))
            {
                if (Interlocked.Decrement(ref *_shim.ActiveCounter) == 0)
                {
                    // The hooks see no close from now on, until the next trace starts.
                    _peers.Forget();
                }
            }
            else if (session.BackendState is not null)
            {
                // Hooks were removed while this trace ran: calls after that were not seen.
                session.MarkIncomplete();
            }

            session.BackendState = null;
        }

        return Task.CompletedTask;
    }

    // Asked in the call's flow, right after it: its life is the fd's now.
    public string? DescribeFd(int fd, long generation)
    {
        if (_peers.Find(fd, generation) is { } known)
        {
            return known;
        }

        var epoch = _peers.Epoch;
        if (FdTargets.PeerOf(fd) is not { } peer)
        {
            return FdTargets.LinkOf(fd);
        }

        // A number without a close count has no lives to tell apart.
        if (fd < FdOwners.MaxFd && FdTargets.IsStreamSocket(fd))
        {
            _peers.Remember(fd, generation, epoch, peer);
        }

        return peer;
    }

    /// <summary>The stream sockets' peers named so far (tests).</summary>
    internal SocketPeers Peers => _peers;

    public void Stop()
    {
        lock (_lock)
        {
            // A failed install may be retried by the next trace.
            _failed = false;
            if (!_installed)
            {
                return;
            }

            var failures = _shim.Uninstall();
            _installed = false;
            _installation = new object();
            Volatile.Write(ref *_shim.ActiveCounter, 0);
            _peers.Forget();
            if (failures != 0)
            {
                _diagnostics.StartFailed(Name, $"{failures} GOT slots could not be restored");
            }
        }
    }

    /// <summary>
    /// Currently patched slots: library, symbol (<c>syscall(copy_file_range)</c> for a slot serving one system call made
    /// through syscall(2)), the slot's address and what it held before.
    /// </summary>
    internal IReadOnlyList<(string Library, string Symbol, nint Got, nint Original, bool Patched)> Slots()
    {
        var slots = new List<(string, string, nint, nint, bool)>();
        var count = _shim.SlotCount();
        for (var i = 0; i < count; i++)
        {
            var slot = _shim.SlotAt(i);
            var library = Marshal.PtrToStringUTF8((nint)_shim.LibraryPath(slot->Library)) ?? "?";
            var symbol = LibcIoFunction.All[slot->Symbol].Symbol;
            slots.Add((library, slot->SyscallNumber != 0 ? $"syscall({symbol})" : symbol, (nint)slot->Got, slot->Restore, slot->Patched != 0));
        }

        return slots;
    }

    private bool EnsureInstalled()
    {
        if (_installed)
        {
            return true;
        }

        lock (_lock)
        {
            if (_installed || _failed)
            {
                return _installed;
            }

            if (InstallFaultForTests is { } fault)
            {
                Fail(fault);
                return false;
            }

            var imports = LibcIoFunction.All;
            var names = new nint[imports.Length];
            var appDir = Marshal.StringToCoTaskMemUTF8(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory) + "/");
            try
            {
                for (var i = 0; i < imports.Length; i++)
                {
                    names[i] = Marshal.StringToCoTaskMemUTF8(imports[i].Symbol);
                }

                fixed (nint* namesPointer = names)
                {
                    var slots = _shim.Install((byte**)namesPointer, imports.Length, IoHook.EntryPoint, (byte*)appDir);
                    if (slots <= 0)
                    {
                        Fail("libSystem.Native.so was not found among the loaded libraries, or none of its IO imports could be rebound");
                        return false;
                    }
                }

                _installed = true;
                return true;
            }
            finally
            {
                foreach (var name in names)
                {
                    Marshal.FreeCoTaskMem(name);
                }

                Marshal.FreeCoTaskMem(appDir);
            }
        }
    }

    private void Fail(string reason)
    {
        _failed = true;
        _failureReason = reason;
        _diagnostics.StartFailed(Name, reason);
    }
}
