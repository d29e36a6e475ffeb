namespace IoTrace.DTrace.Script;

/// <summary>Which script the backend runs, and so how it reads dtrace.</summary>
internal enum DTraceScriptKind
{
    /// <summary>
    /// <see cref="DTraceScript"/>, on DTrace for Linux's raw tracepoints: a line per traced call, its stack walked by the
    /// script. The backend's on Linux.
    /// </summary>
    Lines,

    /// <summary>
    /// <see cref="SyscallProviderScript"/>, on the <c>syscall</c> provider: calls aggregated in dtrace, stacks from
    /// <c>ustack()</c>. What macOS, FreeBSD and illumos will run; the tests run it on Linux (<see cref="DTraceBackend.ScriptKind"/>).
    /// </summary>
    SyscallProvider,
}
