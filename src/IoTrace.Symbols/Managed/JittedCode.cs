using System.Reflection;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// One method as the runtime reported it (MethodID is the runtime's MethodDesc, stable while the method lives),
/// shared by all its code versions. Its <see cref="MethodBase"/> and source lines are resolved on first use.
/// </summary>
internal sealed class JittedMethod
{
    private readonly Lock _gate = new();
    private volatile bool _resolved;
    private MethodBase? _method;
    private MethodLines? _lines;

    public JittedMethod(long methodId, long moduleId, int token, bool isDynamic, string typeName, string methodName)
    {
        MethodId = methodId;
        ModuleId = moduleId;
        Token = token;
        IsDynamic = isDynamic;
        TypeName = typeName;
        MethodName = methodName;
    }

    public long MethodId { get; }

    public long ModuleId { get; }

    public int Token { get; }

    public bool IsDynamic { get; }

    public string TypeName { get; }

    public string MethodName { get; }

    /// <summary>The method and its lines, resolving them once; a module not known yet is retried on the next call.</summary>
    public (MethodBase? Method, MethodLines? Lines) Resolve(Func<JittedMethod, (MethodBase? Method, MethodLines? Lines, bool Final)> resolver)
    {
        if (!_resolved)
        {
            lock (_gate)
            {
                if (!_resolved)
                {
                    var (method, lines, final) = resolver(this);
                    _method = method;
                    _lines = lines;
                    _resolved = final;
                    return (method, lines);
                }
            }
        }

        return (_method, _lines);
    }
}

/// <summary>
/// One code version of a method: [Start, End) of JIT'd code and its IL map. Tiered compilation gives a method
/// several (tier0, OSR, tier1), each its own range; the map arrives in a second event, so it is set later.
/// </summary>
internal sealed class JittedCode
{
    private volatile ILToNativeMap? _map;

    public JittedCode(ulong start, uint size, JittedMethod method, string tier, bool isJitted, long sequence)
    {
        Start = start;
        Tier = tier;
        IsJitted = isJitted;
        End = start + size;
        Method = method;
        Sequence = sequence;
    }

    public ulong Start { get; }

    public ulong End { get; }

    public JittedMethod Method { get; }

    /// <summary>The runtime's optimization tier of this version (QuickJitted, OptimizedTier1, ...), for diagnostics.</summary>
    public string Tier { get; }

    /// <summary>False for precompiled (ReadyToRun) code the rundown lists next to a method's jitted versions: no IL map.</summary>
    public bool IsJitted { get; }

    /// <summary>Order of arrival: when stale and new ranges overlap (a missed unload), the newer one wins.</summary>
    public long Sequence { get; }

    public ILToNativeMap? Map
    {
        get => _map;
        set => _map = value;
    }
}
