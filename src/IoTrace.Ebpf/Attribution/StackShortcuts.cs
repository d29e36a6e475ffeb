using IoTrace.Ebpf.Kernel;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Tells the BPF program which stack beginnings already hold their app frame, so that it stops walking there: the
/// walk costs two user reads per frame, and the app's frame is usually far shallower than the 20 frames walked.
/// A beginning is marked at a checkpoint (<see cref="KernelProgram.Checkpoints"/>) once a stack was resolved to an
/// app frame with a source line at or before it: every stack that begins with the same frames resolves to that frame,
/// whatever lies deeper. Marks are per set of attribution rules (a resolver), since skipped namespaces move the frame,
/// and are taken back when the runtime unloads code among their frames (its addresses may hold other code later).
/// Used by one thread (the flush processor).
/// </summary>
internal sealed class StackShortcuts(Action<ulong, int> mark, Action<ulong, int> forget, int capacity)
{
    // At most as many as the kernel map holds (capacity); past it, marks would be refused there anyway.
    private readonly Dictionary<(ulong Hash, int Rules), ulong[]> _marked = [];

    public int Count => _marked.Count;

    /// <summary>The kernel's hash of the first <paramref name="checkpoint"/> + 1 frames (zeros past the stack's end).</summary>
    public static ulong PrefixHash(ReadOnlySpan<ulong> stack, int checkpoint)
    {
        var hash = KernelProgram.HashBasis;
        for (var i = 0; i <= checkpoint; i++)
        {
            hash = unchecked((hash ^ (i < stack.Length ? stack[i] : 0)) * KernelProgram.HashPrime);
        }

        return hash;
    }

    /// <summary>A stack resolved, under rules <paramref name="rulesId"/>, to an app frame with a line at <paramref name="frameIndex"/>.</summary>
    public void Found(ulong[] stack, int frameIndex, int rulesId)
    {
        if (rulesId is <= 0 or > SyscallTable.MaxRulesId)
        {
            return;
        }

        foreach (var checkpoint in KernelProgram.Checkpoints)
        {
            if (frameIndex > checkpoint)
            {
                continue;
            }

            // A stack that ends by the checkpoint (or was cut there) gains nothing.
            if (stack.Length > checkpoint + 1 && _marked.Count < capacity)
            {
                var hash = PrefixHash(stack, checkpoint);
                if (_marked.TryAdd((hash, rulesId), stack[..(checkpoint + 1)]))
                {
                    mark(hash, rulesId);
                }
            }

            return;
        }
    }

    /// <summary>Takes back the marks whose frames match, one by one: a delete in the kernel is done when the call returns, a clear is not.</summary>
    public void ForgetWhere(Func<ulong[], bool> frames)
    {
        foreach (var key in _marked.Where(m => frames(m.Value)).Select(m => m.Key).ToList())
        {
            _marked.Remove(key);
            forget(key.Hash, key.Rules);
        }
    }

    /// <summary>Takes back every mark.</summary>
    public void ForgetAll() => ForgetWhere(static _ => true);
}
