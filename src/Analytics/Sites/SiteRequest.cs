namespace Analytics.Sites;

/// <summary>The fields of a site a client may set; null fields are left as they are.</summary>
internal sealed record SiteRequest(string? Id, string[]? Domains, string? TimeZone, bool? PublicCounter, string[]? QueryParameters)
{
    /// <summary>The site with this request's fields applied, or the field at fault and why.</summary>
    public (Site Site, string? Field, string? Error) ApplyTo(Site site)
    {
        if (Domains is { } domains)
        {
            var normalised = new List<string>();
            foreach (var domain in domains)
            {
                if (SiteRules.NormaliseDomain(domain) is not { } d)
                {
                    return (site, "domains", $"'{domain}' is not a domain name (like example.com).");
                }

                normalised.Add(d);
            }

            site = site with { Domains = [.. normalised.Distinct(StringComparer.Ordinal)] };
        }

        if (site.Domains.Length == 0)
        {
            return (site, "domains", "domains must list at least one domain of the site.");
        }

        if (TimeZone is { } zone)
        {
            if (!SiteRules.IsTimeZone(zone))
            {
                return (site, "timeZone", $"'{zone}' is not an IANA time zone (like Europe/Istanbul).");
            }

            site = site with { TimeZone = zone };
        }

        if (PublicCounter is { } publicCounter)
        {
            site = site with { PublicCounter = publicCounter };
        }

        if (QueryParameters is { } parameters)
        {
            if (parameters.Any(p => string.IsNullOrWhiteSpace(p) || p.Length > 100))
            {
                return (site, "queryParameters", "queryParameters must be non-empty names.");
            }

            site = site with { QueryParameters = [.. parameters.Distinct(StringComparer.Ordinal)] };
        }

        return (site, null, null);
    }
}
