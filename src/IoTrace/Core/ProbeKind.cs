namespace IoTrace.Core;

internal enum ProbeKind
{
    Setup,
    Read,
    Write,
}
