namespace IoTrace.Testing;

/// <summary>A report went over an <see cref="IoBudget"/>: the message names each limit, the line that spent most, and prints the table.</summary>
public sealed class IoBudgetExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IoBudgetExceededException()
        : this([], null, "The IO budget was exceeded.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public IoBudgetExceededException(string message)
        : this([], null, message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public IoBudgetExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Exceeded = [];
    }

    internal IoBudgetExceededException(IReadOnlyList<string> exceeded, IoTraceReport? report, string message)
        : base(message)
    {
        Exceeded = exceeded;
        Report = report;
    }

    /// <summary>Each limit exceeded, as the message says it.</summary>
    public IReadOnlyList<string> Exceeded { get; }

    /// <summary>The report that went over.</summary>
    public IoTraceReport? Report { get; }
}
