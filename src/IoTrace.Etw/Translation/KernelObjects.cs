using System.Collections.Concurrent;

namespace IoTrace.Etw.Translation;

/// <summary>
/// The process's open files and sockets as the kernel's events show them: each kernel object (a FileObject, a socket's
/// AFD endpoint) is an fd of the trace's model, with a number of its own (Windows has handles, which the events do not
/// carry) and a generation that changes with each open and close of that object, whose address the kernel reuses.
/// Written by the event thread; what an fd is, is read from any thread (<see cref="Describe"/>).
/// </summary>
internal sealed class KernelObjects
{
    // Closed objects are remembered so that their address, reused, starts a new generation of the same fd; past this
    // many, the closed ones are forgotten (a reused address then gets a new number instead).
    private const int Remembered = 100_000;

    private readonly Dictionary<ulong, Life> _byObject = [];
    private readonly ConcurrentDictionary<int, (long Generation, string Target)> _targets = new();
    private int _lastFd;

    /// <summary>The life an open that succeeded starts on <paramref name="kernelObject"/>, with its target, if it names one.</summary>
    public (int Fd, long Generation) Opened(ulong kernelObject, string? target)
    {
        var life = _byObject.TryGetValue(kernelObject, out var known) ? Next(known) : New();
        _byObject[kernelObject] = life;
        Name(life.Fd, life.Generation, target);
        return (life.Fd, life.Generation);
    }

    /// <summary>
    /// The current life of <paramref name="kernelObject"/>: one opened before the events were read gets a number now,
    /// and a closed one's address reused without an open seen starts a new generation.
    /// </summary>
    public (int Fd, long Generation) Of(ulong kernelObject)
    {
        if (_byObject.TryGetValue(kernelObject, out var life) && !life.Closed)
        {
            return (life.Fd, life.Generation);
        }

        life = life.Fd == 0 ? New() : Next(life);
        _byObject[kernelObject] = life;
        return (life.Fd, life.Generation);
    }

    /// <summary>What fd <paramref name="fd"/>, in life <paramref name="generation"/>, stands for now (a socket's peer, once connected).</summary>
    public void Name(int fd, long generation, string? target)
    {
        if (target is null)
        {
            _targets.TryRemove(fd, out _);
        }
        else
        {
            _targets[fd] = (generation, target);
        }
    }

    /// <summary>The life of <paramref name="kernelObject"/> ended: the kernel may reuse its address.</summary>
    public void Closed(ulong kernelObject)
    {
        if (_byObject.TryGetValue(kernelObject, out var life))
        {
            _byObject[kernelObject] = life with { Closed = true };
            _targets.TryRemove(life.Fd, out _);
        }

        if (_byObject.Count > Remembered)
        {
            foreach (var (closed, _) in _byObject.Where(static o => o.Value.Closed).ToList())
            {
                _byObject.Remove(closed);
            }
        }
    }

    /// <summary>The path or peer fd <paramref name="fd"/> stands for now, if an event named it.</summary>
    public string? Describe(int fd) => _targets.TryGetValue(fd, out var named) ? named.Target : null;

    /// <summary>The open fds an event named, with their lives and targets (paths, peers): read from any thread.</summary>
    public IEnumerable<(int Fd, long Generation, string Target)> Named()
    {
        foreach (var (fd, (generation, target)) in _targets)
        {
            yield return (fd, generation, target);
        }
    }

    private Life New() => new(++_lastFd, 0, Closed: false);

    // The address's next life: the same fd, another generation.
    private static Life Next(Life life) => life with { Generation = life.Generation + 1, Closed = false };

    private readonly record struct Life(int Fd, long Generation, bool Closed);
}
