namespace IoTrace.Probes;

/// <summary>The direction of a probe's calls, which decides the strategies that record it.</summary>
internal enum ProbeKind
{
    /// <summary>Opening, naming, waiting on and closing fds: the <see cref="Strategy.Setup"/> strategy.</summary>
    Setup,

    /// <summary>Moving bytes in: the <see cref="Strategy.Read"/> strategy.</summary>
    Read,

    /// <summary>Moving bytes out: the <see cref="Strategy.Write"/> strategy.</summary>
    Write,

    /// <summary>
    /// Moving bytes both ways: from one fd to another in the kernel (copy_file_range, sendfile, splice), or a client's
    /// command and its answer (redis). Read and Write both record it.
    /// </summary>
    Transfer,
}
