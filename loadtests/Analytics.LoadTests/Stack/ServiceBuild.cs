using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Analytics.LoadTests.Stack;

/// <summary>
/// The analytics.dll the harness runs as a child process. Numbers from a Debug build mean
/// nothing, so a Debug build is refused unless asked for (and then warned about loudly).
/// </summary>
internal sealed record ServiceBuild(string DllPath, string Configuration, bool Optimized)
{
    public bool IsDebug => !Optimized || string.Equals(Configuration, "Debug", StringComparison.OrdinalIgnoreCase);

    /// <summary>Finds and checks the build; throws with a hint when it is missing or a refused Debug build.</summary>
    public static ServiceBuild Locate(string? path, bool allowDebug, TextWriter log)
    {
        var dll = path ?? Repository.ReleaseService
            ?? throw new InvalidOperationException("Could not find the repository (Analytics.sln) to locate analytics.dll; pass --service PATH/analytics.dll.");
        dll = Path.GetFullPath(dll);
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} does not exist. Build the service in Release first: dotnet build src/Analytics/Analytics.csproj -c Release");
        }

        var build = Inspect(dll);
        if (build.IsDebug)
        {
            var message = $"{dll} is a {build.Configuration} build (JIT optimizer {(build.Optimized ? "on" : "OFF")}): its numbers say nothing about the service.";
            if (!allowDebug)
            {
                throw new InvalidOperationException(message + " Build it with -c Release, or pass --allow-debug to run it anyway.");
            }

            Warn(log, message + " Running it because --allow-debug was given.");
        }

        WarnWhenStale(dll, log);
        return build;
    }

    /// <summary>Reads [AssemblyConfiguration] and [Debuggable] from the assembly's metadata without loading it.</summary>
    public static ServiceBuild Inspect(string dll)
    {
        using var stream = File.OpenRead(dll);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var configuration = "unknown";
        var optimized = true;
        foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = metadata.GetCustomAttribute(handle);
            var name = AttributeName(metadata, attribute);
            var blob = metadata.GetBlobReader(attribute.Value);
            if (blob.Length < 2 || blob.ReadUInt16() != 1)
            {
                continue;
            }

            if (name == "AssemblyConfigurationAttribute")
            {
                configuration = blob.ReadSerializedString() ?? "";
            }
            else if (name == "DebuggableAttribute")
            {
                // DebuggableAttribute(DebuggingModes) or DebuggableAttribute(bool jitTracking, bool jitOptimizerDisabled).
                if (blob.RemainingBytes >= 6)
                {
                    const int disableOptimizations = 0x100;
                    optimized = (blob.ReadInt32() & disableOptimizations) == 0;
                }
                else if (blob.RemainingBytes >= 4)
                {
                    blob.ReadBoolean();
                    optimized = !blob.ReadBoolean();
                }
            }
        }

        return new ServiceBuild(dll, configuration, optimized);
    }

    public static void Warn(TextWriter log, string message)
    {
        var bar = new string('!', 78);
        log.WriteLine(bar);
        log.WriteLine("!! WARNING: " + message);
        log.WriteLine(bar);
    }

    private static string AttributeName(MetadataReader metadata, CustomAttribute attribute)
    {
        var type = attribute.Constructor.Kind switch
        {
            HandleKind.MemberReference => metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent,
            HandleKind.MethodDefinition => metadata.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType(),
            _ => default,
        };
        return type.Kind switch
        {
            HandleKind.TypeReference => metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)type).Name),
            HandleKind.TypeDefinition => metadata.GetString(metadata.GetTypeDefinition((TypeDefinitionHandle)type).Name),
            _ => "",
        };
    }

    /// <summary>A build older than the service's sources measures yesterday's code.</summary>
    private static void WarnWhenStale(string dll, TextWriter log)
    {
        var sources = Repository.Root is null ? null : Path.Combine(Repository.Root, "src", "Analytics");
        if (sources is null || !Directory.Exists(sources) || !dll.StartsWith(sources, StringComparison.Ordinal))
        {
            return;
        }

        var built = File.GetLastWriteTimeUtc(dll);
        var newest = Directory.EnumerateFiles(sources, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (File: f, Time: File.GetLastWriteTimeUtc(f)))
            .MaxBy(f => f.Time);
        if (newest.File is not null && newest.Time > built)
        {
            log.WriteLine($"note: {Path.GetRelativePath(sources, newest.File)} is newer than {Path.GetFileName(dll)}; rebuild (-c Release) to measure the current code.");
        }
    }
}
