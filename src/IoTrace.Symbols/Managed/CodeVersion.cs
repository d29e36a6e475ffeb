namespace IoTrace.Symbols.Managed;

/// <summary>One code version of a method as the map holds it.</summary>
internal readonly record struct CodeVersion(ulong Start, ulong Size, string Tier, bool IsJitted, bool HasILMap);
