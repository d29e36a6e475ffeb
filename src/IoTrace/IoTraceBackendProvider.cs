using IoTrace.Backends;

namespace IoTrace;

/// <summary>
/// A backend that a package adds to IoTrace, such as IoTrace.Ebpf's. Tracing uses only the backends an app registers:
/// <c>services.AddIoTrace().AddEbpfBackend()</c> in an ASP.NET Core app, <see cref="IoTracer.AddBackend"/> for the
/// block API. The in-process backend is built in.
/// </summary>
public sealed class IoTraceBackendProvider
{
    private readonly BackendFactory _create;

    internal IoTraceBackendProvider(string name, BackendFactory create)
    {
        Name = name;
        _create = create;
    }

    /// <summary>Creates the process's instance of a backend, or gives the reason it cannot run here. Never throws.</summary>
    internal delegate IIoTraceBackend? BackendFactory(out string reason);

    /// <summary>The backend's name, as reports and configuration spell it (<c>ebpf</c>).</summary>
    public string Name { get; }

    /// <summary>The backend's instance for this process, or null with the reason it cannot run here.</summary>
    internal IIoTraceBackend? Create(out string reason) => _create(out reason);

    /// <inheritdoc />
    public override string ToString() => Name;
}
