using System.Reflection;

namespace IoTrace.Symbols.Managed;

/// <summary>One resolved managed frame: the method, the IL offset of the address and, with a PDB, its source line.</summary>
/// <param name="Method">The method; null for dynamic methods and for methods whose module cannot be matched to a loaded assembly.</param>
/// <param name="TypeName">The declaring type's name as the runtime reported it (namespace included).</param>
/// <param name="MethodName">The method's name as the runtime reported it.</param>
/// <param name="ILOffset">The IL offset of the address; negative when it has none (prolog, epilog, no mapping).</param>
/// <param name="File">The source file, when a portable PDB has a sequence point for the IL offset.</param>
/// <param name="Line">The source line, with <paramref name="File"/>.</param>
/// <param name="NativeOffset">The offset of the looked-up address from the start of its code version.</param>
internal readonly record struct ManagedFrame(
    MethodBase? Method,
    string TypeName,
    string MethodName,
    int ILOffset,
    string? File,
    int? Line,
    int NativeOffset);
