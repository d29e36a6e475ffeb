using System.Net;
using System.Runtime.CompilerServices;
using IoTrace.Attribution;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;

namespace IoTrace.Symbols;

/// <summary>
/// Turns a user stack a kernel-side backend walked into the application line that made the call: the first frame of
/// the app's own code (by the trace's resolver: not the framework, not IoTrace, not a skipped namespace), preferring
/// frames with source lines, as the in-process backend does. What the backend's walk needs to learn, and may remember,
/// goes through <see cref="IStackWalk"/>. Used by one thread (a flush processor).
/// </summary>
internal sealed class StackAttributor(ManagedCodeMap map, IStackWalk walk, FileImages? images = null)
{
    // Dns's precompiled image, by file name: the maps name it by its real path, which a symbolic link in the install
    // may change.
    private static readonly string s_nameResolutionFile = Path.GetFileName(typeof(Dns).Assembly.Location);

    private readonly FileImages _images = images ?? new FileImages();
    private int _modulesSeen;

    // Stacks arrive interned by the parser (one array per distinct stack), so identity is enough for the key.
    private readonly Dictionary<(CallSiteResolver Resolver, ulong[] Stack), SourceLocation> _cache = new(new KeyComparer());

    /// <summary>
    /// The stack's application site, or <see cref="SourceLocation.Unknown"/>. A stack may run code jitted just before
    /// the call whose events are still in flight (a method's first call, or its tier-1 code): a frame the map does not
    /// know, in the runtime's executable memory rather than in a library or ReadyToRun image, before the application
    /// frame found (or with none found). Skipping it would give the call its caller's line, for good once cached. The
    /// first such stack of a flush waits for the map to catch up (<paramref name="waited"/> then holds whether it did),
    /// after which every stack of that flush is final.
    /// </summary>
    public SourceLocation Resolve(CallSiteResolver resolver, ulong[] stack, ref bool? waited)
    {
        if (stack.Length == 0)
        {
            return SourceLocation.Unknown;
        }

        ForgetUnloadedCode();
        NoteLoadedModules();
        if (_cache.TryGetValue((resolver, stack), out var known))
        {
            return known;
        }

        // The runtime's own call is the runtime's however deep the walk went: deep enough, it meets native runtime code
        // with no frame pointer and stops short there.
        if (IsRuntimeCall(stack))
        {
            return _cache[(resolver, stack)] = SourceLocation.Runtime;
        }

        // A walk that stopped short (native code without frame pointers, a frameless caller it skipped): it learns from
        // this stack, and the next call on this path walks further. Frames past where it stopped may be stale; an app
        // frame before it is not (a deep walk meets frameless framework code below the app's frame).
        if (walk.StoppedShort(stack))
        {
            var (found, at, _) = Attribute(resolver, stack);
            if ((found?.File is null && !ReferenceEquals(found, SourceLocation.SharedConnection)) || walk.StoppedShort(stack[..(at + 1)]))
            {
                return _cache[(resolver, stack)] = SourceLocation.StackIncomplete;
            }

            if (found.File is not null)
            {
                walk.Found(stack, at, resolver.Id);
            }

            return _cache[(resolver, stack)] = found;
        }

        var (site, index, unknownCode) = Attribute(resolver, stack);
        if (ReferenceEquals(site, SourceLocation.SharedConnection) && !unknownCode)
        {
            return _cache[(resolver, stack)] = site;
        }

        if (site?.File is null || unknownCode)
        {
            // The runtime delivers its events in batches about every 100 ms; more on a loaded machine. A failed wait
            // leaves the stack uncached, to be tried again at its next flush.
            waited ??= map.WaitUntilCurrent(TimeSpan.FromSeconds(3));
            if (waited == false)
            {
                return site?.File is null ? SourceLocation.Unknown : site;
            }

            // What the map still does not know now is no method's code (a stub, a frame the walk guessed); an assembly
            // loaded meanwhile (Dns's, at a process's first resolution) may be in an image read before it was mapped.
            NoteLoadedModules();
            (site, index, _) = Attribute(resolver, stack);
        }

        if (site?.File is not null)
        {
            walk.Found(stack, index, resolver.Id);
        }

        site ??= InNameResolution(stack) ? SourceLocation.NameResolution : SourceLocation.Unknown;
        if (_cache.Count > 50_000)
        {
            _cache.Clear();
        }

        _cache[(resolver, stack)] = site;
        return site;
    }

    /// <summary>
    /// The site of a call of a trace without context, whose backend keeps its frames only where it may be the runtime's
    /// own (<see cref="RuntimeCode"/>): <see cref="SourceLocation.Runtime"/> if it is, else none.
    /// </summary>
    public SourceLocation? SiteWithoutContext(ulong[] stack) => stack.Length != 0 && IsRuntimeCall(stack) ? SourceLocation.Runtime : null;

    /// <summary>
    /// Whether the runtime's own native code made the call (an assembly load, the GC reading /proc/meminfo): the first
    /// frame past libc (ntdll and kernelbase on Windows) lies in the runtime or the JIT. Managed code reaches them through
    /// libSystem.Native, a P/Invoke or CoreLib's interop stubs.
    /// </summary>
    private bool IsRuntimeCall(ulong[] stack)
    {
        for (var i = 1; i < stack.Length; i++)
        {
            var address = walk.AddressOf(stack[i]);
            if (walk.IsMarker(address) || !_images.TryFind(address, out var path, out _))
            {
                return false;
            }

            if (!NativeLibraries.IsSystemCallLibrary(path))
            {
                return NativeLibraries.IsRuntime(path);
            }
        }

        return false;
    }

    /// <summary>
    /// Whether Dns's own code (System.Net.NameResolution, precompiled or jitted) is on the stack: a resolution's call on
    /// the thread pool, whose line the trace knows from Dns's events.
    /// </summary>
    private bool InNameResolution(ulong[] stack)
    {
        for (var i = 0; i < stack.Length; i++)
        {
            var address = walk.AddressOf(stack[i]);
            if (map.TryResolve(address, isReturnAddress: i > 0, out var frame))
            {
                if (frame.Method is { } method && CallSiteResolver.IsNameResolutionCode(method))
                {
                    return true;
                }
            }
            else if (_images.TryFind(address, out var path, out _) && Path.GetFileName(path.AsSpan()).SequenceEqual(s_nameResolutionFile))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Modules the runtime loaded since the images were read: their ReadyToRun code may be mapped where the images knew none.</summary>
    private void NoteLoadedModules()
    {
        var loaded = map.ModulesLoaded;
        if (loaded != _modulesSeen)
        {
            _modulesSeen = loaded;
            _images.Invalidate();
        }
    }

    /// <summary>Unloaded code: its addresses may hold other methods later, so nothing learned from them holds.</summary>
    private void ForgetUnloadedCode()
    {
        List<(ulong Start, ulong End)>? ranges = null;
        var all = false;
        while (map.TryTakeUnloaded(out var range, out var overflow))
        {
            all |= overflow;
            (ranges ??= []).Add(range);
        }

        if (all)
        {
            _cache.Clear();
            walk.ForgetAll();
            return;
        }

        if (ranges is null)
        {
            return;
        }

        // One pass over what is known, each frame looked up among the ranges. A return address may be the end of its
        // method (a call as its last instruction).
        var unloaded = new AddressRanges(ranges);
        bool Unloaded(ulong frame) => unloaded.IndexOf(frame, endInclusive: true) >= 0;

        foreach (var key in _cache.Keys.Where(k => Array.Exists(k.Stack, Unloaded)).ToList())
        {
            _cache.Remove(key);
        }

        walk.ForgetWhere(frames => Array.Exists(frames, Unloaded));
    }

    /// <summary>
    /// The first app frame with a line and its index, or else the first app frame without one (index -1); and whether a
    /// frame before it (or any, without one) is code the map may not know yet.
    /// </summary>
    private (SourceLocation? Site, int Index, bool UnknownCode) Attribute(CallSiteResolver resolver, ulong[] stack)
    {
        SourceLocation? withoutLine = null;
        var unknownCode = false;
        for (var i = 0; i < stack.Length; i++)
        {
            var address = walk.AddressOf(stack[i]);
            if (!map.TryResolve(address, isReturnAddress: i > 0, out var frame))
            {
                // Native code (libc, the runtime) and ReadyToRun framework code are not in the map: expected. Else
                // the frame is in the runtime's executable memory, and may be a method the map learns of later.
                unknownCode |= !walk.IsMarker(address) && !_images.Contains(address);
                continue;
            }

            if (frame.Method is { } loop && CallSiteResolver.IsMultiplexedConnectionCode(loop))
            {
                return (SourceLocation.SharedConnection, i, unknownCode);
            }

            if (frame.Method is not { } method || resolver.ApplicationSite(method, frame.File, frame.Line) is not { } site)
            {
                continue;
            }

            if (site.File is not null)
            {
                return (site, i, unknownCode);
            }

            withoutLine ??= site;
        }

        return (withoutLine, -1, unknownCode);
    }

    private sealed class KeyComparer : IEqualityComparer<(CallSiteResolver Resolver, ulong[] Stack)>
    {
        public bool Equals((CallSiteResolver Resolver, ulong[] Stack) x, (CallSiteResolver Resolver, ulong[] Stack) y) =>
            ReferenceEquals(x.Resolver, y.Resolver) && ReferenceEquals(x.Stack, y.Stack);

        public int GetHashCode((CallSiteResolver Resolver, ulong[] Stack) obj) =>
            HashCode.Combine(RuntimeHelpers.GetHashCode(obj.Resolver), RuntimeHelpers.GetHashCode(obj.Stack));
    }
}
