using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

public sealed class StackShortcutsTests
{
    private const int Rules = 3;

    private readonly List<(ulong Hash, int Rules)> _marked = [];
    private readonly List<(ulong Hash, int Rules)> _forgotten = [];

    [Fact]
    public void PrefixHash_Frames_IsFnv1aOverTheWordsUpToTheCheckpoint()
    {
        ulong[] stack = [0x7f00_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_3000];

        // Written out as the BPF program folds them: $h = ($h ^ $fN) * prime, zeros past the stack's end.
        var expected = 14695981039346656037UL;
        foreach (var frame in new ulong[] { 0x7f00_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_3000, 0, 0 })
        {
            expected = unchecked((expected ^ frame) * 1099511628211UL);
        }

        Assert.Equal(expected, StackShortcuts.PrefixHash(stack, checkpoint: 4));
        Assert.NotEqual(StackShortcuts.PrefixHash(stack, 4), StackShortcuts.PrefixHash(stack, 3));
    }

    [Fact]
    public void Found_AppFrameBeforeTheFirstCheckpoint_MarksThoseFramesOnce()
    {
        var shortcuts = Create();
        var stack = Stack(20);

        shortcuts.Found(stack, frameIndex: 3, Rules);
        shortcuts.Found(stack, frameIndex: 3, Rules);

        Assert.Equal([(StackShortcuts.PrefixHash(stack, KernelProgram.Checkpoints[0]), Rules)], _marked);
        Assert.Equal(1, shortcuts.Count);
    }

    [Fact]
    public void Found_AppFrameBetweenCheckpoints_MarksAtTheNextCheckpoint()
    {
        var shortcuts = Create();
        var stack = Stack(20);

        shortcuts.Found(stack, frameIndex: KernelProgram.Checkpoints[0] + 1, Rules);

        Assert.Equal([(StackShortcuts.PrefixHash(stack, KernelProgram.Checkpoints[1]), Rules)], _marked);
    }

    [Fact]
    public void Found_AppFrameAtACheckpoint_MarksAtThatCheckpoint()
    {
        var shortcuts = Create();
        var stack = Stack(20);

        shortcuts.Found(stack, frameIndex: KernelProgram.Checkpoints[0], Rules);

        Assert.Equal([(StackShortcuts.PrefixHash(stack, KernelProgram.Checkpoints[0]), Rules)], _marked);
    }

    [Fact]
    public void Found_AppFrameDeeperThanTheLastCheckpoint_MarksNothing()
    {
        var shortcuts = Create();

        shortcuts.Found(Stack(20), frameIndex: KernelProgram.Checkpoints[^1] + 1, Rules);

        Assert.Empty(_marked);
    }

    [Fact]
    public void Found_StackEndingAtTheCheckpoint_MarksNothing()
    {
        // The walk ended there by itself (or was already cut there): there is nothing deeper to save.
        var shortcuts = Create();

        shortcuts.Found(Stack(KernelProgram.Checkpoints[0] + 1), frameIndex: 1, Rules);

        Assert.Empty(_marked);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(SyscallTable.MaxRulesId + 1)]
    public void Found_RulesIdTheSlotCannotCarry_MarksNothing(int rulesId)
    {
        var shortcuts = Create();

        shortcuts.Found(Stack(20), frameIndex: 1, rulesId);

        Assert.Empty(_marked);
    }

    [Fact]
    public void Found_SameFramesOtherRules_MarksForEachRules()
    {
        var shortcuts = Create();
        var stack = Stack(20);

        shortcuts.Found(stack, frameIndex: 1, Rules);
        shortcuts.Found(stack, frameIndex: 1, Rules + 1);

        Assert.Equal([Rules, Rules + 1], _marked.Select(m => m.Rules));
    }

    [Fact]
    public void Found_AtCapacity_MarksNothingMore()
    {
        var shortcuts = Create(capacity: 1);

        shortcuts.Found(Stack(20, seed: 1), frameIndex: 1, Rules);
        shortcuts.Found(Stack(20, seed: 2), frameIndex: 1, Rules);

        Assert.Single(_marked);
    }

    [Fact]
    public void ForgetAll_AfterMarks_ForgetsEachInTheKernelAndMarksAgainWhenFound()
    {
        var (shortcuts, first, _) = CreateWithTwoMarks(secondFrameIndex: 8);

        shortcuts.ForgetAll();
        shortcuts.Found(first, frameIndex: 1, Rules);

        Assert.Equal(_marked.Take(2).Order(), _forgotten.Order());
        Assert.Equal(_marked[0], _marked[2]);
        Assert.Equal(1, shortcuts.Count);
    }

    [Fact]
    public void ForgetWhere_UnloadedCodeInOneMarksFrames_ForgetsOnlyThatMark()
    {
        var (shortcuts, first, second) = CreateWithTwoMarks(secondFrameIndex: 1);

        // Frame 3 of the first stack is in the unloaded range; frames past the checkpoint were never marked.
        shortcuts.ForgetWhere(frames => Array.Exists(frames, f => f == first[3] || f == second[15]));

        Assert.Equal([(StackShortcuts.PrefixHash(first, KernelProgram.Checkpoints[0]), Rules)], _forgotten);
        Assert.Equal(1, shortcuts.Count);
    }

    /// <summary>Two stacks marked: the first at the first checkpoint, the second where its app frame says.</summary>
    private (StackShortcuts Shortcuts, ulong[] First, ulong[] Second) CreateWithTwoMarks(int secondFrameIndex)
    {
        var shortcuts = Create();
        var first = Stack(20, seed: 1);
        var second = Stack(20, seed: 2);
        shortcuts.Found(first, frameIndex: 1, Rules);
        shortcuts.Found(second, secondFrameIndex, Rules);
        return (shortcuts, first, second);
    }

    private StackShortcuts Create(int capacity = 100) => new((hash, rules) => _marked.Add((hash, rules)), (hash, rules) => _forgotten.Add((hash, rules)), capacity);

    private static ulong[] Stack(int frames, ulong seed = 0) =>
        [.. Enumerable.Range(0, frames).Select(i => 0x7f00_0000_0000 + (seed << 20) + ((ulong)i * 0x40))];
}
