namespace IoTrace.Symbols;

/// <summary>
/// What a backend's own stack walk adds to <see cref="StackAttributor"/>: the flag bits it sets on frames, the stacks
/// it must learn from before their frames can be trusted, and what it remembers of the frames it attributed.
/// </summary>
internal interface IStackWalk
{
    /// <summary>The return address a frame holds, without the walk's flag bits.</summary>
    ulong AddressOf(ulong frame);

    /// <summary>Whether <paramref name="address"/> is a marker the walk writes in place of a frame, not an address.</summary>
    bool IsMarker(ulong address);

    /// <summary>
    /// Whether the walk stopped short of the frames that decide the line (native code it is still learning to step
    /// through): the stack gets no line (<see cref="Attribution.SourceLocation.StackIncomplete"/>), and the walk learns from it.
    /// </summary>
    bool StoppedShort(ulong[] stack);

    /// <summary>The application frame of <paramref name="stack"/> for the rules <paramref name="rulesId"/> is at <paramref name="index"/>.</summary>
    void Found(ulong[] stack, int index, int rulesId);

    /// <summary>Forgets what it remembered of stacks holding a frame <paramref name="unloaded"/> says is gone.</summary>
    void ForgetWhere(Func<ulong[], bool> unloaded);

    /// <summary>Forgets everything it remembered of stacks.</summary>
    void ForgetAll();
}
