using System.Text.RegularExpressions;

namespace Analytics.Sites;

/// <summary>A tracked site as stored in Redis.</summary>
internal sealed record Site
{
    public required string Id { get; init; }

    public required string[] Domains { get; init; }

    public string TimeZone { get; init; } = "UTC";

    public bool PublicCounter { get; init; }

    /// <summary>Query parameters that are part of a page's identity (e.g. <c>id</c> of <c>/article?id=7</c>); all others are dropped.</summary>
    public string[] QueryParameters { get; init; } = [];

    public string IngestKeyHash { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Random, set when the site is made (<see cref="Counting.RedisKeys.Generation"/>); empty for sites made before generations.</summary>
    public string Generation { get; init; } = "";
}

/// <summary>A site ready for the hot path: its zone resolved and its domains in a set.</summary>
internal sealed class SiteEntry
{
    public SiteEntry(Site site)
    {
        Site = site;
        Zone = TimeZoneInfo.FindSystemTimeZoneById(site.TimeZone);
        Domains = new HashSet<string>(site.Domains, StringComparer.OrdinalIgnoreCase);
        _domainLookup = Domains.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _domainLookup;

    public Site Site { get; }

    public string Id => Site.Id;

    public TimeZoneInfo Zone { get; }

    public HashSet<string> Domains { get; }

    /// <summary>The host is one of the site's domains, or a subdomain of one (www.example.com for example.com).</summary>
    public bool OwnsHost(string host)
    {
        for (var candidate = host.AsSpan(); ; )
        {
            if (_domainLookup.Contains(candidate))
            {
                return true;
            }

            var dot = candidate.IndexOf('.');
            if (dot < 0)
            {
                return false;
            }

            candidate = candidate[(dot + 1)..];
        }
    }

    public DateOnly LocalDay(DateTimeOffset instant) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, Zone).DateTime);
}

internal static partial class SiteRules
{
    [GeneratedRegex(@"\A[a-z0-9-]{1,64}\z")]
    public static partial Regex Id();

    // A host name: labels of letters, digits and hyphens, optionally a port-less IDN already in punycode.
    [GeneratedRegex(@"\A(?=.{1,253}\z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\z")]
    public static partial Regex Domain();

    public static bool IsTimeZone(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out _) && IsIana(id);

    // Windows names are also resolved on Linux; the contract is IANA names.
    private static bool IsIana(string id) => id == "UTC" || id.Contains('/', StringComparison.Ordinal) || TimeZoneInfo.TryConvertIanaIdToWindowsId(id, out _);

    public static string? NormaliseDomain(string? domain)
    {
        if (string.IsNullOrWhiteSpace(domain))
        {
            return null;
        }

        var d = domain.Trim().ToLowerInvariant();
        if (d.StartsWith("www.", StringComparison.Ordinal))
        {
            d = d[4..];
        }

        return Domain().IsMatch(d) ? d : null;
    }
}
