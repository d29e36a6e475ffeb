namespace IoTrace.Ebpf.Kernel;

/// <summary>How the kernel program attaches to the system call tracepoints.</summary>
internal enum KernelTracepoints
{
    /// <summary>BTF-typed tracepoints (<c>tp_btf</c>), with the task's CPU time read through CO-RE: kernels with BTF.</summary>
    Btf,

    /// <summary>Raw tracepoints (<c>raw_tp</c>) of the program built without BTF: any kernel, no CPU time.</summary>
    Raw,
}
