namespace Analytics;

internal sealed class AnalyticsOptions
{
    public const string Section = "Analytics";

    /// <summary>The first admin's bearer token (<c>Analytics__AdminToken</c>). Without it only staff users can sign in.</summary>
    public string? AdminToken { get; set; }

    /// <summary>
    /// Load balancers and reverse proxies (addresses, or networks such as <c>10.0.0.0/8</c>) whose
    /// <c>X-Forwarded-For</c>, <c>-Proto</c> and <c>-Host</c> are believed, besides this machine's own.
    /// Without them, every visitor behind a balancer on another machine has the balancer's address:
    /// one rate limit and one visitor for all.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>The trusted proxies as networks (a single address is a /32 or /128); false naming the first that is neither.</summary>
    public bool TryTrustedNetworks(out List<System.Net.IPNetwork> networks, out string? invalid)
    {
        networks = [];
        invalid = null;
        foreach (var entry in TrustedProxies)
        {
            var text = entry.Trim();
            if (System.Net.IPAddress.TryParse(text, out var address))
            {
                networks.Add(new System.Net.IPNetwork(address, address.GetAddressBytes().Length * 8));
            }
            else if (System.Net.IPNetwork.TryParse(text, out var network))
            {
                networks.Add(network);
            }
            else
            {
                invalid = entry;
                return false;
            }
        }

        return true;
    }
}
