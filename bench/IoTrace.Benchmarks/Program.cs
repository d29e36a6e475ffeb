using System.Globalization;
using BenchmarkDotNet.Running;

namespace IoTrace.Benchmarks;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Not BenchmarkDotNet: the eBPF backend's attach and detach times, one fresh process per run (EbpfAttach.cs),
        // and interleaved cross-checks for noisy machines (InProcessInterleaved.cs, KernelInterleaved.cs, MiddlewareInterleaved.cs).
        if (args.Length > 0 && OperatingSystem.IsLinux())
        {
            switch (args[0])
            {
                case EbpfAttach.Command:
                    return EbpfAttach.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7);
                case EbpfAttach.OnceCommand:
                    return EbpfAttach.RunOnce();
                case EbpfAttach.ProgramOnceCommand:
                    return EbpfAttach.RunProgramOnce();
                case InProcessInterleaved.Command:
                    return InProcessInterleaved.Run(
                        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5,
                        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : null);
                case MiddlewareInterleaved.Command:
                    return MiddlewareInterleaved.Run(
                        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5,
                        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : null);
                case DTraceSyscallProvider.Command:
                    return DTraceSyscallProvider.Run(
                        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5,
                        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : null);
                case KernelInterleaved.EbpfCommand or KernelInterleaved.DTraceCommand:
                    return KernelInterleaved.Run(
                        args[0] == KernelInterleaved.EbpfCommand ? "ebpf" : "dtrace",
                        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5,
                        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : null);
            }
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
