using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Pairs each code version with its IL map. The map event names only the method, not the code version, but the
/// runtime writes the two back to back on one thread: load then map while live, map then DCEnd at rundown.
/// </summary>
internal sealed class CodeVersionPairs(bool mapFirst)
{
    private readonly Dictionary<(long MethodId, int ThreadId), JittedCode> _codes = [];
    private readonly Dictionary<(long MethodId, int ThreadId), ILToNativeMap> _maps = [];

    public void OnCode(JittedCode code, int threadId)
    {
        var key = (code.Method.MethodId, threadId);
        if (mapFirst)
        {
            if (_maps.Remove(key, out var map))
            {
                code.Map = map;
            }
        }
        else
        {
            _codes[key] = code;
        }
    }

    public void OnILMap(MethodILToNativeMapTraceData e)
    {
        if (e.MethodExtent != 0)
        {
            return;
        }

        var key = (e.MethodID, e.ThreadID);
        JittedCode? code = null;
        if (!mapFirst && !_codes.Remove(key, out code))
        {
            return;
        }

        var count = e.CountOfMapEntries;
        var il = new int[count];
        var native = new int[count];
        for (var i = 0; i < count; i++)
        {
            il[i] = e.ILOffset(i);
            native[i] = e.NativeOffset(i);
        }

        var map = ILToNativeMap.Create(il, native);
        if (code is not null)
        {
            code.Map = map;
        }
        else
        {
            _maps[key] = map;
        }
    }
}
