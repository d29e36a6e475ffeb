using IoTrace.Probes;

namespace IoTrace.Etw.Session;

/// <summary>The probes of the kernel's FileIO events (<see cref="ProbeCatalog"/>), looked up once.</summary>
internal static class FileProbes
{
    public static readonly int Create = ProbeCatalog.IndexOf("FileIO/Create");
    public static readonly int Read = ProbeCatalog.IndexOf("FileIO/Read");
    public static readonly int Write = ProbeCatalog.IndexOf("FileIO/Write");
    public static readonly int DirEnum = ProbeCatalog.IndexOf("FileIO/DirEnum");
    public static readonly int Cleanup = ProbeCatalog.IndexOf("FileIO/Cleanup");
    public static readonly int Close = ProbeCatalog.IndexOf("FileIO/Close");
    public static readonly int Flush = ProbeCatalog.IndexOf("FileIO/Flush");
    public static readonly int QueryInfo = ProbeCatalog.IndexOf("FileIO/QueryInfo");
    public static readonly int SetInfo = ProbeCatalog.IndexOf("FileIO/SetInfo");
    public static readonly int Delete = ProbeCatalog.IndexOf("FileIO/Delete");
    public static readonly int Rename = ProbeCatalog.IndexOf("FileIO/Rename");
    public static readonly int FSControl = ProbeCatalog.IndexOf("FileIO/FSControl");
}
